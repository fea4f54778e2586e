/*
 * Emulated Basiq Consent UI: the page at <emulator>/home?token=… that Basiq hosts at
 * consent.basiq.io/home. It takes Basiq's query parameters (token, userId, action, state,
 * institutionId, connectionId), shows the consent, lets the person connect banks (a web login,
 * or open banking at the bank's own page) and manage what they shared, then sends them back to
 * the application's redirect URL: ?jobId=<first>&jobIds=<all>&state=<state> after Done,
 * ?state=<state> alone after leaving.
 * Plain ES2017, no dependencies. API data only ever reaches the DOM as text.
 */
(function () {
  "use strict";

  var FIRST_POLL_MS = 100;
  var POLL_MS = 500;
  var MAX_POLL_ERRORS = 3;
  var EXPIRING_MS = 7 * 24 * 3600 * 1000;
  var ACTIONS = ["connect", "manage", "extend", "update", "reauthorise"];
  var STEP_WORDS = {
    pending: "Waiting",
    "in-progress": "In progress",
    success: "Done",
    failed: "Failed",
    skipped: "Skipped"
  };

  var query = new URLSearchParams(window.location.search);
  // Basiq's own links hold empty parameters (home?&token=…): empty is the same as absent.
  function param(name) {
    var value = query.get(name);
    return value === null || value === "" ? null : value;
  }
  var token = param("token");
  var action = param("action");
  if (action === "null") action = null;
  var returnState = param("state");
  var apiBase = window.location.origin;

  var state = {
    session: null,
    institutions: [],
    byId: {},
    institution: null,
    connectionId: null, // the connection being updated or reauthorised, if any
    jobIds: [], // jobs whose connection was made in this visit, in order
    connectedNames: [],
    attempt: 0, // bumps on every new attempt; stale async results compare against it
    mfaKey: null,
    pollErrors: 0,
    lastLoginId: null,
    screen: "loading",
    backTo: null,
    confirmAction: null,
    clockOffset: 0
  };

  // ---------------------------------------------------------------------------------------------
  // API (same origin as this page), and the helpers this page shares with Blink's

  var page = window.EmulatedPage;
  var $ = page.$;
  var el = page.el;
  var errorText = page.errorText;
  var isInstitution = page.isInstitution;
  var initials = page.initials;
  var addField = page.addField;
  var setFieldError = page.setFieldError;
  var fieldValue = page.fieldValue;
  var findStep = page.findStep;

  // Resolves with the JSON body (or null for 204); rejects with the API's first error object.
  function request(method, path, body, withToken) {
    return page.request(apiBase + path, method, body, withToken === false ? null : token);
  }

  function logo(inst, kind, className) {
    return page.logo(inst, kind, className, "square");
  }

  function loadSession() {
    return request("GET", "/consent/api/session").then(function (session) {
      state.session = session;
      var serverNow = Date.parse(session.now);
      state.clockOffset = isNaN(serverNow) ? 0 : serverNow - Date.now();
      return session;
    });
  }

  // The emulator's time, which a test may have moved: dates on screen follow it.
  function now() {
    return Date.now() + (state.clockOffset || 0);
  }

  function daysFromNow(days) {
    return new Date(now() + days * 24 * 3600 * 1000).toISOString();
  }

  function appName() {
    return (state.session && state.session.application && state.session.application.name) ||
      "the application";
  }

  function activeConsent() {
    var consents = (state.session && state.session.consents) || [];
    return consents.filter(function (c) { return c.status === "active"; })[0] || null;
  }

  // ---------------------------------------------------------------------------------------------
  // Institutions

  function methodOf(inst) {
    var login = inst && inst.features && inst.features.login;
    return Array.isArray(login) && login.indexOf("open-banking") >= 0 ? "openbanking" : "web";
  }

  // What the picker offers: every web bank a person logs in to, and every open-banking bank.
  function offered(inst) {
    if (inst.stage === "alpha") return false;
    if (methodOf(inst) === "openbanking") return true;
    return ["user", "user-mfa", "user-mfa-intermittent"].indexOf(inst.authorization) >= 0;
  }

  function loadInstitutions() {
    return request("GET", "/public/institutions", undefined, false).then(function (body) {
      var all = (Array.isArray(body.data) ? body.data : []).filter(isInstitution);
      all.forEach(function (inst) { state.byId[inst.id] = inst; });
      // Test banks first, as in Basiq's sandbox; then by tier and name.
      state.institutions = all.filter(offered).sort(function (a, b) {
        var test = Number(b.institutionType === "Test Bank") - Number(a.institutionType === "Test Bank");
        if (test) return test;
        var tier = Number(a.tier) - Number(b.tier);
        if (tier) return tier;
        return a.shortName.toLowerCase() < b.shortName.toLowerCase() ? -1 : 1;
      });
    });
  }

  function institutionName(id) {
    var inst = state.byId[id];
    return inst ? inst.name || inst.shortName : id;
  }

  // ---------------------------------------------------------------------------------------------
  // DOM helpers

  function methodBadge(method) {
    return el("span", "method method-" + (method === "openbanking" ? "openbanking" : "web"),
      method === "openbanking" ? "Open Banking" : "Web login");
  }

  function date(iso) {
    var moment = new Date(iso);
    if (!iso || isNaN(moment.getTime())) return "";
    return moment.toLocaleDateString("en-AU", { day: "numeric", month: "long", year: "numeric" });
  }

  function showScreen(name, title, focus) {
    var screens = ["loading", "error", "consent", "banks", "login", "authorise", "progress",
      "mfa", "failure", "success", "manage", "reauthorise", "notice"];
    screens.forEach(function (s) { $("screen-" + s).hidden = s !== name; });
    state.screen = name;
    $("title").textContent = title;
    document.title = title + " · Basiq Consent (emulator)";
    $("back").hidden = !state.backTo;
    $("close").hidden = !state.session;
    $("content").scrollTop = 0;
    (focus || $("title")).focus({ preventScroll: true });
  }

  function showError(message) {
    state.backTo = null;
    $("error-message").textContent = message;
    $("error-leave").hidden = !state.session;
    $("error-leave").textContent = "Back to " + appName();
    showScreen("error", "Something went wrong");
  }

  function showNotice(title, message, result) {
    state.backTo = null;
    $("notice-message").textContent = message;
    $("notice-result").hidden = result === undefined;
    $("notice-result").textContent = result || "";
    // With a result, this is the end: there is nowhere to go back to.
    $("notice-done").hidden = result !== undefined;
    showScreen("notice", title, result === undefined ? $("notice-done") : null);
  }

  // ---------------------------------------------------------------------------------------------
  // Leaving: the full-page redirect back to the application

  function redirectQuery(jobIds) {
    var parts = [];
    if (jobIds.length) {
      parts.push("jobId=" + encodeURIComponent(jobIds[0]));
      parts.push("jobIds=" + jobIds.map(encodeURIComponent).join(","));
    }
    if (returnState !== null) parts.push("state=" + encodeURIComponent(returnState));
    return parts.join("&");
  }

  function finish(jobIds) {
    var extra = redirectQuery(jobIds);
    var target = state.session && state.session.redirectUrl;
    if (!target) {
      showNotice(jobIds.length ? "All done" : "You left",
        "No redirect URL is set for " + appName() + ", so you stay here. " +
          "With one, you would go back with these parameters:",
        extra ? "?" + extra : "(no parameters)");
      $("close").hidden = true;
      return;
    }
    var url = new URL(target);
    if (extra) url.search = url.search ? url.search + "&" + extra : "?" + extra;
    window.location.assign(url.href);
  }

  function askToLeave() {
    $("leave-text").textContent = "You will be taken back to " + appName() + ".";
    $("leave-dialog").showModal();
  }

  // ---------------------------------------------------------------------------------------------
  // Consent

  function showConsent(mode) {
    var session = state.session;
    var policy = session.policy;
    var name = appName();
    state.backTo = null;
    $("consent-app-mark").textContent = initials(name) || "A";
    $("consent-who").textContent = name + " uses Basiq to collect your banking data.";
    $("purpose-title").textContent = policy.purpose.primary.title;
    $("purpose-description").textContent = policy.purpose.primary.description;
    var list = $("permissions");
    list.textContent = "";
    policy.data.permissions.forEach(function (permission) {
      var item = el("li");
      item.dataset.scope = permission.scope;
      var details = el("details");
      details.appendChild(el("summary", null, permission.information.name));
      details.appendChild(el("p", "permission-detail", permission.information.description));
      details.appendChild(el("p", "permission-detail", "Why: " + permission.purpose.description));
      var attributes = el("ul", "attributes");
      permission.information.attributeList.forEach(function (attribute) {
        attributes.appendChild(el("li", null, attribute));
      });
      details.appendChild(attributes);
      item.appendChild(details);
      list.appendChild(item);
    });
    var days = policy.duration.days;
    var until = daysFromNow(days);
    $("duration").textContent = "Ongoing access for " +
      (days === 365 ? "12 months" : days + " days") + ", until " + date(until) +
      ". You can revoke your consent at any time.";
    $("retention").textContent = policy.data.retainData
      ? "Your data is kept after your consent ends."
      : "When your consent ends, your data is deleted.";
    $("accept").textContent = mode === "new" ? "Accept" : "Extend";
    $("accept").disabled = false;
    $("accept").onclick = function () { accept(mode); };
    var title = mode === "new" ? "Share your data with " + name
      : mode === "update" ? "Review your consent" : "Extend your consent";
    showScreen("consent", title);
  }

  function accept(mode) {
    $("accept").disabled = true;
    request("POST", "/consent/api/consents", {}).then(function () {
      return loadSession();
    }).then(function () {
      if (mode === "new") {
        afterConsent();
        return;
      }
      var consent = activeConsent();
      showNotice("Consent extended",
        "Your consent now lasts until " + date(consent && consent.expiryDate) + ".");
    }, function (error) {
      $("accept").disabled = false;
      showError(errorText(error));
    });
  }

  function afterConsent() {
    var connectionId = param("connectionId");
    var institutionId = param("institutionId");
    if (connectionId) {
      var connection = (state.session.connections || []).filter(function (c) {
        return c.id === connectionId;
      })[0];
      if (!connection) {
        showError("There is no connection " + connectionId + " (connectionId) for you to update.");
        return;
      }
      var inst = state.byId[connection.institution.id];
      if (!inst) {
        showError("The bank of connection " + connectionId + " is not available.");
        return;
      }
      state.connectionId = connectionId;
      openBank(inst, null);
      return;
    }
    if (institutionId) {
      var chosen = state.byId[institutionId];
      if (!chosen || !offered(chosen)) {
        showError("The bank " + institutionId + " (institutionId) is not available.");
        return;
      }
      openBank(chosen, null);
      return;
    }
    showBanks();
  }

  // ---------------------------------------------------------------------------------------------
  // Bank picker

  function showBanks(focusId) {
    state.connectionId = null;
    state.backTo = null;
    state.attempt++;
    renderBanks($("search").value);
    showScreen("banks", "Select your bank");
    if (focusId) {
      var tile = $("institutions").querySelector('[data-institution-id="' + CSS.escape(focusId) + '"]');
      if (tile) tile.focus();
    }
  }

  function renderBanks(text) {
    var term = text.trim().toLowerCase();
    var items = state.institutions.filter(function (inst) {
      return !term || inst.shortName.toLowerCase().indexOf(term) >= 0 ||
        String(inst.name || "").toLowerCase().indexOf(term) >= 0;
    });
    var list = $("institutions");
    list.textContent = "";
    items.forEach(function (inst) {
      var item = el("li");
      var button = el("button", "tile");
      button.type = "button";
      button.dataset.institutionId = inst.id;
      button.dataset.method = methodOf(inst);
      button.appendChild(logo(inst, "square", "tile-logo"));
      var label = el("span", "tile-label");
      label.appendChild(el("span", "tile-name", inst.name || inst.shortName));
      var detail = [inst.serviceType !== "Personal Banking" ? inst.serviceType : null,
        inst.country !== "Australia" ? inst.country : null].filter(Boolean).join(" · ");
      if (detail) label.appendChild(el("span", "tile-detail", detail));
      button.appendChild(label);
      if (methodOf(inst) === "openbanking") button.appendChild(methodBadge("openbanking"));
      button.addEventListener("click", function () { openBank(inst, "banks"); });
      item.appendChild(button);
      list.appendChild(item);
    });
    $("no-results").hidden = items.length > 0;
  }

  function openBank(inst, backTo) {
    state.institution = inst;
    state.backTo = backTo;
    if (methodOf(inst) === "openbanking") showAuthorise(inst);
    else showLogin(inst, null);
  }

  // ---------------------------------------------------------------------------------------------
  // Web login

  function showLogin(inst, loginId) {
    state.attempt++;
    var fields = $("login-fields");
    fields.textContent = "";
    $("login-logo").replaceChildren(logo(inst, "full"));
    $("login-bank").textContent = inst.name || inst.shortName;
    var first = addField(fields, {
      id: "loginId", label: inst.loginIdCaption || "Username", autocomplete: "username",
      value: loginId
    });
    var password = addField(fields, {
      id: "password", label: inst.passwordCaption || "Password", type: "password",
      autocomplete: "current-password"
    });
    if (inst.securityCodeCaption) {
      addField(fields, { id: "securityCode", label: inst.securityCodeCaption, type: "password" });
    }
    if (inst.secondaryLoginIdCaption) {
      addField(fields, { id: "secondaryLoginId", label: inst.secondaryLoginIdCaption });
    }
    $("connect").disabled = false;
    var title = state.connectionId ? "Update your login" : "Log in to " + inst.shortName;
    showScreen("login", title, loginId ? password : first);
  }

  function onLoginSubmit(event) {
    event.preventDefault();
    if (state.screen !== "login" || $("connect").disabled) return;
    var inst = state.institution;
    var body = {
      loginId: fieldValue("loginId"),
      password: fieldValue("password"),
      institution: { id: inst.id }
    };
    var missing = [];
    if (!body.loginId) missing.push(["loginId", inst.loginIdCaption || "username"]);
    if (!body.password) missing.push(["password", inst.passwordCaption || "password"]);
    missing.forEach(function (pair) {
      setFieldError($(pair[0]), "Enter your " + pair[1].toLowerCase() + ".");
    });
    if (missing.length) {
      $(missing[0][0]).focus();
      return;
    }
    if (fieldValue("securityCode")) body.securityCode = fieldValue("securityCode");
    if (fieldValue("secondaryLoginId")) body.secondaryLoginId = fieldValue("secondaryLoginId");
    state.lastLoginId = body.loginId;
    $("connect").disabled = true;
    start(inst, body);
  }

  // ---------------------------------------------------------------------------------------------
  // Open banking: the bank's own page, simulated

  function showAuthorise(inst) {
    state.attempt++;
    $("authorise-logo").replaceChildren(logo(inst, "full"));
    $("authorise-bank").textContent = inst.name || inst.shortName;
    $("authorise-who").textContent = "Basiq asks, for " + appName() +
      ", to see this data from your accounts at " + (inst.name || inst.shortName) + ":";
    var list = $("authorise-data");
    list.textContent = "";
    state.session.policy.data.permissions.forEach(function (permission) {
      list.appendChild(el("li", null, permission.information.name));
    });
    var until = daysFromNow(state.session.policy.duration.days);
    $("authorise-until").textContent = "Sharing until " + date(until) + ".";
    $("approve").disabled = false;
    $("deny").disabled = false;
    var title = state.connectionId ? "Renew sharing at " + inst.shortName
      : "Authorise at " + inst.shortName;
    showScreen("authorise", title);
  }

  function decide(approved) {
    if (state.screen !== "authorise" || $("approve").disabled) return;
    $("approve").disabled = true;
    $("deny").disabled = true;
    start(state.institution, {
      institution: { id: state.institution.id },
      authorisation: approved ? "approved" : "denied"
    });
  }

  // ---------------------------------------------------------------------------------------------
  // A connection's job: progress, MFA, result

  function start(inst, body) {
    var attempt = ++state.attempt;
    state.mfaKey = null;
    state.pollErrors = 0;
    if (state.connectionId) body.connectionId = state.connectionId;
    request("POST", "/consent/api/connections", body).then(function (job) {
      if (attempt !== state.attempt) return;
      showProgress(inst);
      schedulePoll(job.id, attempt, FIRST_POLL_MS);
    }, function (error) {
      if (attempt !== state.attempt) return;
      if (error.code === "resource-already-exists") {
        showFailure("You have already connected to " + inst.shortName + " with these details.");
      } else {
        showFailure(errorText(error));
      }
    });
  }

  function showProgress(inst) {
    $("progress-bank").textContent = "Connecting to " + (inst.name || inst.shortName);
    Array.prototype.forEach.call($("steps").children, function (item) {
      item.dataset.status = "pending";
      item.querySelector(".step-status").textContent = STEP_WORDS.pending;
    });
    state.backTo = null;
    showScreen("progress", "Connecting…");
  }

  function schedulePoll(jobId, attempt, delay) {
    window.setTimeout(function () { poll(jobId, attempt); }, delay);
  }

  function poll(jobId, attempt) {
    if (attempt !== state.attempt) return;
    request("GET", "/jobs/" + encodeURIComponent(jobId)).then(function (job) {
      if (attempt !== state.attempt) return;
      state.pollErrors = 0;
      Array.prototype.forEach.call($("steps").children, function (item) {
        var step = findStep(job, item.dataset.step);
        var status = step ? step.status : "pending";
        item.dataset.status = status;
        item.querySelector(".step-status").textContent = STEP_WORDS[status] || status;
      });
      var verify = findStep(job, "verify-credentials");
      var accounts = findStep(job, "retrieve-accounts");
      var mfa = findStep(job, "mfa-challenge");
      if (verify && verify.status === "failed") {
        showFailure(failureText(verify.result));
        return;
      }
      if (verify && verify.status === "success" && accounts && accounts.status === "success") {
        connected(jobId);
        return;
      }
      if (mfa && mfa.status === "in-progress" && mfa.result && mfa.result.type === "mfa") {
        showMfa(jobId, attempt, mfa.result);
      } else if (state.screen === "mfa" && verify && verify.status === "success") {
        showProgress(state.institution);
      }
      schedulePoll(jobId, attempt, POLL_MS);
    }, function (error) {
      if (attempt !== state.attempt) return;
      if (++state.pollErrors < MAX_POLL_ERRORS) {
        schedulePoll(jobId, attempt, POLL_MS);
        return;
      }
      showFailure(errorText(error));
    });
  }

  function failureText(result) {
    if (result && result.code === "authorization-failed") {
      return "You did not allow " + state.institution.shortName + " to share your data (" +
        (result.detail || "access denied") + ").";
    }
    return (result && (result.detail || result.title)) || "We could not connect to your bank.";
  }

  function showMfa(jobId, attempt, challenge) {
    var inputs = Array.isArray(challenge.input) && challenge.input.length ? challenge.input : ["Answer"];
    var key = JSON.stringify([jobId, challenge.method, challenge.description, inputs]);
    if (state.mfaKey === key) return;
    state.mfaKey = key;
    $("mfa-description").textContent = challenge.description || "Your bank needs to check it is you.";
    var fields = page.addMfaFields($("mfa-fields"), challenge);
    $("mfa-error").hidden = true;
    $("mfa-submit").disabled = false;
    $("mfa-form").onsubmit = function (event) {
      event.preventDefault();
      submitMfa(jobId, attempt, fields.count);
    };
    showScreen("mfa", "Verify it's you", fields.first);
  }

  function submitMfa(jobId, attempt, count) {
    if (state.screen !== "mfa" || $("mfa-submit").disabled) return;
    var typed = page.mfaAnswers(count);
    if (typed.missing) {
      typed.missing.focus();
      return;
    }
    $("mfa-submit").disabled = true;
    request("POST", "/jobs/" + encodeURIComponent(jobId) + "/mfa", { "mfa-response": typed.answers })
      .then(function () {
        if (attempt !== state.attempt || state.screen !== "mfa") return;
        showProgress(state.institution);
      }, function (error) {
        if (attempt !== state.attempt || state.screen !== "mfa") return;
        $("mfa-error").textContent = errorText(error);
        $("mfa-error").hidden = false;
        $("mfa-submit").disabled = false;
      });
  }

  function showFailure(message) {
    state.attempt++;
    state.backTo = null;
    $("failure-message").textContent = message;
    $("other-bank").hidden = !!state.connectionId;
    showScreen("failure", "We couldn't connect", $("retry"));
  }

  function connected(jobId) {
    var inst = state.institution;
    state.jobIds.push(jobId);
    state.connectedNames.push(inst);
    state.attempt++;
    state.connectionId = null;
    $("success-message").textContent = "You have connected " + (inst.name || inst.shortName) + ".";
    var list = $("connected");
    list.textContent = "";
    state.connectedNames.forEach(function (bank) {
      var item = el("li");
      item.appendChild(logo(bank, "square", "tile-logo"));
      item.appendChild(el("span", null, bank.name || bank.shortName));
      list.appendChild(item);
    });
    state.backTo = null;
    showScreen("success", "Connected", $("done"));
  }

  // ---------------------------------------------------------------------------------------------
  // Manage: consents and connections

  function showManage(message) {
    var session = state.session;
    state.backTo = null;
    var consents = $("consents");
    consents.textContent = "";
    if (!session.consents.length) {
      consents.appendChild(el("li", "card card-empty",
        "You have not given " + appName() + " a consent."));
    }
    session.consents.forEach(function (consent) {
      var card = el("li", "card card-plain");
      card.dataset.consentId = consent.id;
      var main = el("div", "card-main");
      main.appendChild(el("span", "card-title", consent.purpose.primary.title));
      var when = consent.status === "revoked"
        ? "Given " + date(consent.created) + ", revoked " + date(consent.revoked)
        : consent.status === "expired" ? "Ended " + date(consent.expiryDate)
          : "Given " + date(consent.created) + ", until " + date(consent.expiryDate);
      main.appendChild(el("span", "card-text", when));
      var meta = el("span", "card-meta");
      meta.appendChild(el("span", "status status-" + consent.status, consent.status));
      main.appendChild(meta);
      card.appendChild(main);
      if (consent.status === "active") {
        var revoke = el("button", "button button-danger button-small", "Revoke");
        revoke.type = "button";
        revoke.dataset.action = "revoke";
        revoke.setAttribute("aria-label", "Revoke your consent");
        revoke.addEventListener("click", function () { askRevoke(consent); });
        card.appendChild(revoke);
      }
      consents.appendChild(card);
    });
    var connections = $("connections");
    connections.textContent = "";
    if (!session.connections.length) {
      connections.appendChild(el("li", "card card-empty", "No banks are connected."));
    }
    session.connections.forEach(function (connection) {
      var inst = state.byId[connection.institution.id];
      var card = el("li", "card");
      card.dataset.connectionId = connection.id;
      card.appendChild(logo(inst, "square", "tile-logo"));
      var main = el("div", "card-main");
      main.appendChild(el("span", "card-title", institutionName(connection.institution.id)));
      var text = "Connected " + date(connection.createdDate);
      if (connection.expiryDate) text += ", until " + date(connection.expiryDate);
      main.appendChild(el("span", "card-text", text));
      var meta = el("span", "card-meta");
      meta.appendChild(methodBadge(connection.method));
      main.appendChild(meta);
      card.appendChild(main);
      var remove = el("button", "button button-secondary button-small", "Delete");
      remove.type = "button";
      remove.dataset.action = "delete";
      remove.setAttribute("aria-label", "Delete the connection to " +
        institutionName(connection.institution.id));
      remove.addEventListener("click", function () { askDelete(connection); });
      card.appendChild(remove);
      connections.appendChild(card);
    });
    $("manage-error").hidden = !message;
    $("manage-error").textContent = message || "";
    showScreen("manage", "Manage your consent");
  }

  function confirm(title, text, ok, run) {
    $("confirm-title").textContent = title;
    $("confirm-text").textContent = text;
    $("confirm-ok").textContent = ok;
    state.confirmAction = run;
    $("confirm-dialog").showModal();
  }

  function askRevoke(consent) {
    var count = state.session.connections.length;
    confirm("Revoke your consent?",
      appName() + " will no longer get your data. " +
        (count ? "Your " + count + " connected bank" + (count > 1 ? "s" : "") +
          " and their data will be deleted." : "No bank is connected."),
      "Revoke",
      function () { return request("DELETE", "/consent/api/consents/" + encodeURIComponent(consent.id)); });
  }

  function askDelete(connection) {
    var name = institutionName(connection.institution.id);
    confirm("Delete " + name + "?",
      "The connection to " + name + " and its data will be deleted. Your consent stays.",
      "Delete",
      function () {
        return request("DELETE", "/consent/api/connections/" + encodeURIComponent(connection.id));
      });
  }

  function runConfirmed() {
    var run = state.confirmAction;
    state.confirmAction = null;
    $("confirm-dialog").close();
    if (!run) return;
    run().then(loadSession).then(function () { showManage(); }, function (error) {
      loadSession().then(function () { showManage(errorText(error)); }, function () {
        showError(errorText(error));
      });
    });
  }

  // ---------------------------------------------------------------------------------------------
  // Reauthorise: open-banking connections that stop within 7 days

  function showReauthorise() {
    var soon = now() + EXPIRING_MS;
    var expiring = state.session.connections.filter(function (connection) {
      return connection.method === "openbanking" && connection.expiryDate &&
        new Date(connection.expiryDate).getTime() <= soon;
    });
    if (!expiring.length) {
      showNotice("Nothing to renew", "None of your open banking connections stop in the next 7 days.");
      return;
    }
    var list = $("expiring");
    list.textContent = "";
    expiring.forEach(function (connection) {
      var inst = state.byId[connection.institution.id];
      var card = el("li", "card card-plain");
      card.dataset.connectionId = connection.id;
      var main = el("div", "card-main");
      main.appendChild(el("span", "card-title", institutionName(connection.institution.id)));
      main.appendChild(el("span", "card-text", "Stops " + date(connection.expiryDate)));
      card.appendChild(main);
      var renew = el("button", "button button-primary button-small", "Renew");
      renew.type = "button";
      renew.addEventListener("click", function () {
        if (!inst) return;
        state.connectionId = connection.id;
        state.institution = inst;
        state.backTo = "reauthorise";
        showAuthorise(inst);
      });
      card.appendChild(renew);
      list.appendChild(card);
    });
    state.backTo = null;
    showScreen("reauthorise", "Renew open banking");
  }

  // ---------------------------------------------------------------------------------------------
  // Start-up

  function wire() {
    $("close").addEventListener("click", askToLeave);
    $("leave-stay").addEventListener("click", function () { $("leave-dialog").close(); });
    $("leave-confirm").addEventListener("click", function () {
      $("leave-dialog").close();
      finish([]);
    });
    $("decline").addEventListener("click", askToLeave);
    $("error-leave").addEventListener("click", askToLeave);
    $("confirm-cancel").addEventListener("click", function () {
      state.confirmAction = null;
      $("confirm-dialog").close();
    });
    $("confirm-ok").addEventListener("click", runConfirmed);
    $("back").addEventListener("click", function () {
      var to = state.backTo;
      if (to === "reauthorise") showReauthorise();
      else showBanks(state.institution && state.institution.id);
    });
    $("search-form").addEventListener("submit", function (event) { event.preventDefault(); });
    $("search").addEventListener("input", function (event) { renderBanks(event.target.value); });
    $("login-form").addEventListener("submit", onLoginSubmit);
    $("approve").addEventListener("click", function () { decide(true); });
    $("deny").addEventListener("click", function () { decide(false); });
    $("retry").addEventListener("click", function () {
      state.backTo = state.connectionId ? null : "banks";
      if (methodOf(state.institution) === "openbanking") showAuthorise(state.institution);
      else showLogin(state.institution, state.lastLoginId);
    });
    $("other-bank").addEventListener("click", function () { showBanks(); });
    $("another").addEventListener("click", function () { showBanks(); });
    $("done").addEventListener("click", function () { finish(state.jobIds); });
    $("manage-done").addEventListener("click", function () { finish([]); });
    $("notice-done").addEventListener("click", function () { finish(state.jobIds); });
  }

  function begin() {
    var consent = activeConsent();
    if (action === "manage") {
      showManage();
    } else if (action === "extend" || action === "update") {
      if (!consent) showError("There is no active consent to " + action + ".");
      else showConsent(action);
    } else if (action === "reauthorise") {
      if (!consent) showError("There is no active consent: there is nothing to reauthorise.");
      else showReauthorise();
    } else if (!consent) {
      showConsent("new");
    } else {
      afterConsent();
    }
  }

  function startUp() {
    wire();
    if (!token) {
      showError("This link has no token. The application must pass a CLIENT_ACCESS token " +
        "bound to the user (token=…).");
      return;
    }
    if (action !== null && ACTIONS.indexOf(action) < 0) {
      showError("The action " + JSON.stringify(action) + " is not one of: " + ACTIONS.join(", ") + ".");
      return;
    }
    Promise.all([loadSession(), loadInstitutions()]).then(function () {
      var userId = param("userId");
      if (userId && userId !== state.session.userId) {
        state.session = null;
        showError("The userId of this link is not the user its token was made for.");
        return;
      }
      begin();
    }).catch(function (error) {
      state.session = null;
      if (error.status === 403 && error.code === "access-denied") {
        showError("This link has expired. Go back to the application and start again.");
      } else if (error.status === 401) {
        showError("This link's token is not valid.");
      } else {
        showError(errorText(error));
      }
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", startUp);
  } else {
    startUp();
  }
})();

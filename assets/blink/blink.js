/*
 * Emulated Basiq Blink (index.html flavour): the same query parameters, events, payloads and
 * flow as Basiq's hosted page, talking to the Basiq API emulator that serves it.
 * Plain ES2017, no dependencies. API data only ever reaches the DOM as text.
 */
(function () {
  "use strict";

  var CACHE_TTL_MS = 60 * 60 * 1000;
  var HANDSHAKE_DELAY_MS = 1000;
  var FIRST_POLL_MS = 100;
  var POLL_MS = 1000;
  var DEMO_DELAY_MS = 2100;
  var MAX_POLL_ERRORS = 3;
  // Blink's intended 2021 filter; its HEAD lost a comma and a quote (see the README).
  var INSTITUTION_FILTER =
    "institution.authorization.in('user','user-mfa','user-mfa-intermittent')," +
    "institution.stage.ne('alpha')";
  var MFA_AUTHORIZATIONS = ["user-mfa", "user-mfa-intermittent"];
  var MFA_TOKEN_VERSIONS = ["2.1", "3.0"];
  var DEFAULT_FAILURE = "The credentials you provided were incorrect.";
  var DEMO_FAILURE = {
    code: "invalid-credentials",
    title: "Cannot login to target institution, check credentials.",
    detail:
      "Cannot login to target institution using supplied credentials. Please check credentials and try again."
  };

  var params = new URLSearchParams(window.location.search);
  var iframeMode = params.get("iframe") === "true";
  var demo = params.get("demo") === "true";
  var userId = params.get("user_id");
  var accessToken = params.get("access_token");
  var connectionId = params.get("connection_id");
  var apiBase = window.location.origin;

  var state = {
    targetOrigin: "*",
    claims: null,
    institutions: [],
    institution: null,
    screen: "loading",
    attempt: 0, // bumps on every connection attempt; stale async results compare against it
    mfaKey: null,
    pollErrors: 0,
    handshakePending: false,
    handshakeTimer: null
  };

  var $ = function (id) { return document.getElementById(id); };

  // ---------------------------------------------------------------------------------------------
  // Token

  function base64UrlDecode(text) {
    var b64 = text.replace(/-/g, "+").replace(/_/g, "/");
    while (b64.length % 4) b64 += "=";
    var binary = window.atob(b64);
    var bytes = new Uint8Array(binary.length);
    for (var i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  }

  function checkAccessToken(token) {
    if (!token) return "Token is not valid";
    var sections = token.split(".").filter(Boolean);
    if (sections.length < 3) return "Token is not valid";
    var claims;
    try {
      claims = JSON.parse(base64UrlDecode(sections[1]));
    } catch (e) {
      return "Token is not valid";
    }
    if (!claims || typeof claims !== "object") return "Token is not valid";
    if (typeof claims.scope !== "string" || claims.scope.toUpperCase() !== "CLIENT_ACCESS") {
      return "Scope is not valid";
    }
    state.claims = claims;
    return null;
  }

  // A parent_origin must be exactly an origin: scheme, host and optional port, nothing else.
  function parseOrigin(value) {
    var url;
    try {
      url = new URL(value);
    } catch (e) {
      return null;
    }
    if (url.protocol !== "http:" && url.protocol !== "https:") return null;
    if (value.replace(/\/$/, "") !== url.origin) return null;
    return url.origin;
  }

  // ---------------------------------------------------------------------------------------------
  // Events to the host

  function post(event, payload) {
    if (iframeMode) {
      window.parent.postMessage(JSON.stringify({ event: event, payload: payload }), state.targetOrigin);
    } else {
      window.location.replace("basiq://" + event + "/" + (payload ? JSON.stringify(payload) : ""));
    }
  }

  function emit(event, payload) {
    // The handshake is due 1 s after start; a host must never see another event before it.
    flushHandshake();
    post(event, payload);
  }

  function scheduleHandshake() {
    state.handshakePending = true;
    state.handshakeTimer = window.setTimeout(flushHandshake, HANDSHAKE_DELAY_MS);
  }

  function flushHandshake() {
    if (!state.handshakePending) return;
    state.handshakePending = false;
    window.clearTimeout(state.handshakeTimer);
    post("handshake", { success: true });
  }

  // ---------------------------------------------------------------------------------------------
  // API (same origin as this page), and the helpers this page shares with the Consent UI's

  var page = window.EmulatedPage;
  var el = page.el;
  var errorText = page.errorText;
  var isInstitution = page.isInstitution;
  var addField = page.addField;
  var setFieldError = page.setFieldError;
  var fieldValue = page.fieldValue;
  var findStep = page.findStep;
  var UNKNOWN_ERROR = page.UNKNOWN_ERROR;

  // Resolves with the JSON body; rejects with the API's first error object, or UNKNOWN_ERROR:
  // as the API sent it, without the HTTP status, since Blink hands it on to the host page.
  function request(method, path, body, withToken) {
    var token = withToken === false ? null : accessToken;
    return page.request(apiBase + path, method, body, token).catch(function (error) {
      var problem = Object.assign({}, error);
      delete problem.status;
      throw problem;
    });
  }

  function logo(inst, kind, className) {
    return page.logo(inst, kind, className, "self");
  }

  function userPath() {
    return "/users/" + encodeURIComponent(userId);
  }

  // ---------------------------------------------------------------------------------------------
  // Institutions

  function readCache() {
    try {
      var cached = window.localStorage.getItem("cachedInstitutions");
      var time = parseInt(window.localStorage.getItem("cacheTime"), 10);
      if (!cached || !(Date.now() - time < CACHE_TTL_MS)) return null;
      var list = JSON.parse(cached);
      return Array.isArray(list) ? list.filter(isInstitution) : null;
    } catch (e) {
      return null; // storage disabled, full or corrupt: the API answers instead
    }
  }

  function writeCache(list) {
    try {
      window.localStorage.setItem("cachedInstitutions", JSON.stringify(list));
      window.localStorage.setItem("cacheTime", String(Date.now()));
    } catch (e) {
      /* storage disabled or full: no cache */
    }
  }

  function groupInOrder(list, key) {
    var groups = new Map();
    list.forEach(function (item) {
      var name = String(item[key]);
      if (!groups.has(name)) groups.set(name, []);
      groups.get(name).push(item);
    });
    return Array.from(groups.values());
  }

  function flatten(groups) {
    return [].concat.apply([], groups);
  }

  // Blink's order: group by serviceType, then within each country (in order of appearance)
  // a stable sort by tier, then case-insensitive shortName.
  function blinkOrder(list) {
    var byService = flatten(groupInOrder(list, "serviceType"));
    return flatten(groupInOrder(byService, "country").map(function (group) {
      return group.sort(function (a, b) {
        var tier = Number(a.tier) - Number(b.tier);
        if (tier) return tier;
        var nameA = a.shortName.toLowerCase(), nameB = b.shortName.toLowerCase();
        return nameA < nameB ? -1 : nameA > nameB ? 1 : 0;
      });
    }));
  }

  function loadInstitutions() {
    var cached = readCache();
    if (cached) return Promise.resolve(cached);
    var path = "/public/institutions?filter=" + encodeURIComponent(INSTITUTION_FILTER);
    return request("GET", path, undefined, false).then(function (body) {
      var list = blinkOrder((Array.isArray(body.data) ? body.data : []).filter(isInstitution));
      writeCache(list);
      return list;
    });
  }

  function findInstitution(id) {
    var match = function (list) {
      return list.filter(function (item) { return item.id === id; })[0];
    };
    var found = match(readCache() || []);
    if (found) return Promise.resolve(found);
    // Not in the filtered list: ask for all of them, without caching that list as Blink did.
    return request("GET", "/public/institutions", undefined, false).then(function (body) {
      found = match((Array.isArray(body.data) ? body.data : []).filter(isInstitution));
      if (!found) throw { detail: "The institution of this connection (" + id + ") is not available." };
      return found;
    });
  }

  function supportsMfa() {
    return !!state.claims && MFA_TOKEN_VERSIONS.indexOf(String(state.claims.version)) >= 0;
  }

  function displayName(inst) {
    var name = inst.name || inst.shortName;
    if (inst.country !== "Australia") name += " (NZ)";
    if (inst.serviceType !== "Personal Banking") name += " (" + inst.serviceType + ")";
    return name;
  }

  function tileDetail(inst) {
    var parts = [];
    if (inst.serviceType !== "Personal Banking") parts.push(inst.serviceType);
    if (inst.country !== "Australia") parts.push("NZ");
    return parts.join(" · ");
  }

  // ---------------------------------------------------------------------------------------------
  // DOM helpers

  function setTitle(text) {
    $("title").textContent = text;
    document.title = text + " · Basiq Blink (emulator)";
  }

  function showScreen(name, title, focus) {
    ["loading", "error", "institutions", "login", "connecting", "mfa", "result"].forEach(function (s) {
      $("screen-" + s).hidden = s !== name;
    });
    state.screen = name;
    setTitle(title);
    $("back").hidden = !(name === "login" && !connectionId);
    $("content").scrollTop = 0;
    if (focus) focus.focus({ preventScroll: true });
  }

  function showError(message) {
    $("error-message").textContent = message;
    showScreen("error", "Error", userActed() ? $("title") : null);
  }

  // Only move focus after the person did something here: never steal it from the host page.
  function userActed() {
    return document.hasFocus() && document.activeElement !== document.body;
  }

  // ---------------------------------------------------------------------------------------------
  // Institution list

  function showInstitutions(focusId) {
    var search = $("search");
    renderInstitutions(search.value);
    showScreen("institutions", "Select your bank");
    if (focusId) {
      var tile = $("institutions").querySelector('[data-institution-id="' + CSS.escape(focusId) + '"]');
      (tile || search).focus({ preventScroll: false });
    }
  }

  function matches(inst, term) {
    return inst.shortName.toLowerCase().indexOf(term) >= 0 ||
      String(inst.name || "").toLowerCase().indexOf(term) >= 0;
  }

  function renderInstitutions(query) {
    var term = query.trim().toLowerCase();
    var searching = term.length > 0;
    var list = $("institutions");
    var items = searching
      ? state.institutions.filter(function (inst) { return matches(inst, term); })
      : state.institutions;
    list.textContent = "";
    list.classList.toggle("is-search", searching);
    items.forEach(function (inst) {
      var item = el("li");
      var button = el("button", "tile");
      button.type = "button";
      button.dataset.institutionId = inst.id;
      button.title = displayName(inst);
      button.setAttribute("aria-label", displayName(inst));
      button.appendChild(logo(inst, "square", "tile-logo"));
      var label = el("span", "tile-label");
      label.appendChild(el("span", "tile-name", searching ? displayName(inst) : inst.shortName));
      var detail = tileDetail(inst);
      if (detail && !searching) label.appendChild(el("span", "tile-detail", detail));
      button.appendChild(label);
      button.addEventListener("click", function () { showLogin(inst); });
      item.appendChild(button);
      list.appendChild(item);
    });
    var empty = $("no-results");
    empty.textContent = searching ? "Sorry, no results found" : "No banks are available at the moment.";
    empty.hidden = items.length > 0;
  }

  // ---------------------------------------------------------------------------------------------
  // Login form

  function showLogin(inst, loginId) {
    state.institution = inst;
    state.attempt++;
    var fields = $("login-fields");
    fields.textContent = "";
    $("bank-logo").replaceChildren(logo(inst, "full"));
    $("bank-name").textContent = inst.name || inst.shortName;

    var first = addField(fields, {
      id: "loginId",
      label: inst.loginIdCaption || "Username",
      autocomplete: "username",
      value: loginId
    });
    var password = addField(fields, {
      id: "password",
      label: inst.passwordCaption || "Password",
      type: "password",
      autocomplete: "current-password"
    });
    if (inst.securityCodeCaption) {
      addField(fields, { id: "securityCode", label: inst.securityCodeCaption, type: "password" });
    }
    if (inst.secondaryLoginIdCaption) {
      addField(fields, { id: "secondaryLoginId", label: inst.secondaryLoginIdCaption });
    }

    var forgot = $("forgot");
    var forgotUrl = inst.forgottenPasswordUrl;
    if (typeof forgotUrl === "string" && /^https?:\/\//i.test(forgotUrl)) {
      forgot.href = forgotUrl;
      forgot.hidden = false;
    } else {
      forgot.removeAttribute("href");
      forgot.hidden = true;
    }
    showScreen("login", "Login", userActed() ? (loginId ? password : first) : null);
  }

  function onLoginSubmit(event) {
    event.preventDefault();
    if (state.screen !== "login") return;
    var inst = state.institution;
    var credentials = {
      loginId: fieldValue("loginId"),
      password: fieldValue("password"),
      securityCode: fieldValue("securityCode"),
      secondaryLoginId: fieldValue("secondaryLoginId")
    };
    var invalid = [];
    if (!credentials.loginId) invalid.push(["loginId", inst.loginIdCaption || "username"]);
    if (!credentials.password) invalid.push(["password", inst.passwordCaption || "password"]);
    invalid.forEach(function (pair) {
      setFieldError($(pair[0]), "Enter your " + pair[1].toLowerCase() + ".");
    });
    if (invalid.length) {
      $(invalid[0][0]).focus();
      return;
    }
    connect(inst, credentials);
  }

  // ---------------------------------------------------------------------------------------------
  // Connecting, MFA, result

  function showConnecting(message) {
    $("connecting-message").textContent = message;
    showScreen("connecting", "Connecting…", $("title"));
  }

  function connect(inst, credentials) {
    var attempt = ++state.attempt;
    state.mfaKey = null;
    state.pollErrors = 0;
    state.lastLoginId = credentials.loginId;
    showConnecting("Logging on securely");

    if (demo) {
      emit("job", { success: true, data: { id: "fake-job-id" } });
      window.setTimeout(function () {
        if (attempt !== state.attempt) return;
        if (credentials.loginId === "username_valid" && credentials.password === "password_valid") {
          emit("connection", { success: true, data: { id: "fake-connection-id" } });
          showSuccess();
        } else {
          emit("connection", { success: false, data: DEMO_FAILURE });
          showFailure(DEMO_FAILURE.detail);
        }
      }, DEMO_DELAY_MS);
      return;
    }

    var body = {
      loginId: credentials.loginId,
      password: credentials.password,
      institution: { id: inst.id }
    };
    if (credentials.securityCode && inst.securityCodeCaption) body.securityCode = credentials.securityCode;
    if (credentials.secondaryLoginId && inst.secondaryLoginIdCaption) {
      body.secondaryLoginId = credentials.secondaryLoginId;
    }
    var path = userPath() + "/connections" + (connectionId ? "/" + encodeURIComponent(connectionId) : "");
    var failed = function (error) {
      emit("job", { success: false, data: error });
      showFailure(postErrorMessage(error, inst));
    };
    request("POST", path, body).then(function (job) {
      if (typeof job.id !== "string" || !job.id) {
        failed(UNKNOWN_ERROR);
        return;
      }
      emit("job", { success: true, data: { id: job.id } });
      schedulePoll(job.id, attempt, FIRST_POLL_MS);
    }, failed);
  }

  function sentence(text) {
    return /[.!?]$/.test(text) ? text : text + ".";
  }

  function postErrorMessage(error, inst) {
    if (error.code === "resource-already-exists" || error.title === "Resource already exists") {
      return "You have already connected to " + inst.shortName + " with the supplied credentials";
    }
    var parts = [error.title, error.detail].filter(function (part) {
      return typeof part === "string" && part.trim();
    });
    return parts.length ? parts.map(sentence).join(" ") : "Unknown error";
  }

  function schedulePoll(jobId, attempt, delay) {
    window.setTimeout(function () { poll(jobId, attempt); }, delay);
  }

  function poll(jobId, attempt) {
    if (attempt !== state.attempt) return;
    request("GET", "/jobs/" + encodeURIComponent(jobId)).then(function (job) {
      if (attempt !== state.attempt) return;
      state.pollErrors = 0;
      var verify = findStep(job, "verify-credentials");
      var mfa = findStep(job, "mfa-challenge");
      if (verify && verify.status === "success") {
        emit("connection", { success: true, data: { id: connectionIdOf(verify, job) } });
        showSuccess();
        return;
      }
      if (verify && verify.status === "failed") {
        var result = verify.result;
        emit("connection", { success: false, data: result });
        showFailure((result && result.detail) || DEFAULT_FAILURE);
        return;
      }
      if (mfa && mfa.status === "in-progress" && mfa.result && mfa.result.type === "mfa") {
        showMfa(jobId, attempt, mfa.result);
      }
      schedulePoll(jobId, attempt, POLL_MS);
    }, function (error) {
      if (attempt !== state.attempt) return;
      if (++state.pollErrors < MAX_POLL_ERRORS) {
        schedulePoll(jobId, attempt, POLL_MS);
        return;
      }
      // Blink stopped silently here; the host would wait forever.
      emit("connection", { success: false, data: error });
      showFailure(errorText(error));
    });
  }

  function connectionIdOf(step, job) {
    var url = (step.result && step.result.url) || (job.links && job.links.source) || "";
    return String(url).slice(String(url).lastIndexOf("/") + 1);
  }

  function showMfa(jobId, attempt, challenge) {
    var inputs = Array.isArray(challenge.input) && challenge.input.length ? challenge.input : ["Answer"];
    var key = JSON.stringify([challenge.method, challenge.description, inputs]);
    if (state.mfaKey === key) return; // already shown (or answered): keep what the person typed
    state.mfaKey = key;

    $("mfa-description").textContent =
      challenge.description || "Your bank needs to confirm it is you.";
    var fields = page.addMfaFields($("mfa-fields"), challenge);
    $("mfa-error").hidden = true;
    $("mfa-submit").disabled = false;
    var form = $("mfa-form");
    form.onsubmit = function (event) {
      event.preventDefault();
      submitMfa(jobId, attempt, fields.count);
    };
    showScreen("mfa", "Verification", fields.first);
  }

  function submitMfa(jobId, attempt, count) {
    if (state.screen !== "mfa" || $("mfa-submit").disabled) return;
    var typed = page.mfaAnswers(count);
    if (typed.missing) {
      typed.missing.focus();
      return;
    }
    $("mfa-error").hidden = true;
    $("mfa-submit").disabled = true;
    request("POST", "/jobs/" + encodeURIComponent(jobId) + "/mfa", { "mfa-response": typed.answers })
      .then(function () {
        if (attempt !== state.attempt || state.screen !== "mfa") return;
        showConnecting("Checking your answer");
      }, function (error) {
        if (attempt !== state.attempt || state.screen !== "mfa") return;
        // The job keeps running (polling goes on): let the person try again or wait it out.
        $("mfa-error").textContent = postErrorMessage(error, state.institution);
        $("mfa-error").hidden = false;
        $("mfa-submit").disabled = false;
      });
  }

  function showResult(success, message) {
    $("icon-success").hidden = !success;
    $("icon-failure").hidden = success;
    $("done").hidden = !success;
    $("retry").hidden = success;
    $("result-message").textContent = message;
    showScreen("result", success ? "Success" : "Unsuccessful", success ? $("done") : $("retry"));
  }

  function showSuccess() {
    showResult(true, "Your data has been successfully submitted.");
  }

  function showFailure(message) {
    showResult(false, message);
  }

  // ---------------------------------------------------------------------------------------------
  // Start-up

  function configurationError() {
    if (iframeMode && params.has("parent_origin")) {
      var origin = parseOrigin(params.get("parent_origin"));
      if (!origin) return "Parent origin is not valid";
      state.targetOrigin = origin;
    }
    if (demo && connectionId) return "Demo is not supported for update connection use-case.";
    if (!demo) {
      var tokenError = checkAccessToken(accessToken);
      if (tokenError) return tokenError;
      if (!userId) return "User ID is not valid";
    }
    return null;
  }

  function wire() {
    $("close").addEventListener("click", function () { emit("cancellation"); });
    $("back").addEventListener("click", function () {
      state.attempt++;
      showInstitutions(state.institution && state.institution.id);
    });
    $("search-form").addEventListener("submit", function (event) { event.preventDefault(); });
    $("search").addEventListener("input", function (event) { renderInstitutions(event.target.value); });
    $("login-form").addEventListener("submit", onLoginSubmit);
    $("done").addEventListener("click", function () { emit("completion"); });
    $("retry").addEventListener("click", function () {
      showLogin(state.institution, state.lastLoginId);
    });
  }

  function start() {
    wire();
    var problem = configurationError();
    if (problem) {
      showError(problem);
      return;
    }
    scheduleHandshake();

    var ready = demo ? Promise.resolve(null) : request("GET", userPath());
    ready.then(function () {
      if (connectionId) {
        return request("GET", userPath() + "/connections/" + encodeURIComponent(connectionId))
          .then(function (connection) {
            var id = connection.institution && connection.institution.id;
            if (typeof id !== "string") throw UNKNOWN_ERROR;
            return findInstitution(id);
          })
          .then(function (inst) { showLogin(inst); });
      }
      return loadInstitutions().then(function (list) {
        state.institutions = supportsMfa() ? list : list.filter(function (inst) {
          return MFA_AUTHORIZATIONS.indexOf(inst.authorization) < 0;
        });
        showInstitutions();
      });
    }).catch(function (error) {
      showError(errorText(error));
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();

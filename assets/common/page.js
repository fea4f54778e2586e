/*
 * What the emulator's two pages, Blink and the Consent UI, share: DOM helpers, bank logos, form
 * fields and the call to the API that serves them. A classic script loaded (deferred) before
 * each page's own, which takes its helpers from window.EmulatedPage.
 * Plain ES2017, no dependencies. API data only ever reaches the DOM as text.
 */
(function () {
  "use strict";

  var REQUEST_TIMEOUT_MS = 30000;
  var UNKNOWN_ERROR = Object.freeze({ detail: "Unknown error" });

  function $(id) {
    return document.getElementById(id);
  }

  // Resolves with the JSON body (null for 204); rejects with the API's first error object and
  // the HTTP status, or with UNKNOWN_ERROR when nothing answered in time. `token` null: no header.
  async function request(url, method, body, token) {
    var headers = {};
    if (token) headers.Authorization = "Bearer " + token;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    var controller = new AbortController();
    var timer = window.setTimeout(function () { controller.abort(); }, REQUEST_TIMEOUT_MS);
    var response;
    var data = null;
    try {
      response = await window.fetch(url, {
        method: method,
        headers: headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: controller.signal
      });
      if ((response.headers.get("Content-Type") || "").indexOf("application/json") === 0) {
        data = await response.json().catch(function () { return null; });
      }
    } catch (e) {
      throw UNKNOWN_ERROR; // no answer: a network failure, or the timeout aborted it
    } finally {
      window.clearTimeout(timer);
    }
    if (response.status === 204) return null;
    if (response.status > 299 || !data || typeof data !== "object") {
      var error = data && Array.isArray(data.data) && data.data[0];
      var problem = error && typeof error === "object" ? error : UNKNOWN_ERROR;
      throw Object.assign({ status: response.status }, problem);
    }
    return data;
  }

  function errorText(error) {
    return (error && (error.detail || error.title)) || "Unknown error";
  }

  function isInstitution(item) {
    return item && typeof item === "object" && typeof item.id === "string" &&
      typeof item.shortName === "string";
  }

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }

  function initials(name) {
    return String(name).split(/\s+/).filter(Boolean).slice(0, 2).map(function (word) {
      return word.charAt(0).toUpperCase();
    }).join("");
  }

  // The bank's logo of `kind` (else `fallbackKind`), or its initials on its colour when there is
  // none or it fails to load.
  function logo(inst, kind, className, fallbackKind) {
    var box = el("span", className);
    var fallback = function () {
      box.textContent = "";
      var badge = el("span", "logo-fallback", initials(inst ? inst.shortName : "?"));
      var colour = inst && inst.logo && inst.logo.colors && inst.logo.colors.primary;
      if (typeof colour === "string" && /^#[0-9a-f]{3,8}$/i.test(colour)) {
        badge.style.backgroundColor = colour;
      }
      box.appendChild(badge);
    };
    var links = (inst && inst.logo && inst.logo.links) || {};
    var url = links[kind] || links[fallbackKind];
    if (typeof url !== "string" || !/^(https?:|\/)/i.test(url)) {
      fallback();
      return box;
    }
    var img = el("img");
    img.alt = "";
    img.decoding = "async";
    img.addEventListener("error", fallback);
    img.src = url;
    box.appendChild(img);
    return box;
  }

  // A labelled input with its own error line (role-free: the page announces errors itself).
  function addField(container, spec) {
    var wrap = el("div", "field");
    var label = el("label", "field-label", spec.label);
    label.htmlFor = spec.id;
    var input = el("input", "input");
    input.id = spec.id;
    input.name = spec.id;
    input.type = spec.type || "text";
    input.placeholder = spec.placeholder || spec.label;
    input.autocomplete = spec.autocomplete || "off";
    input.spellcheck = false;
    input.setAttribute("autocapitalize", "none");
    if (spec.inputmode) input.setAttribute("inputmode", spec.inputmode);
    if (spec.value) input.value = spec.value;
    var error = el("p", "field-error");
    error.id = spec.id + "-error";
    error.hidden = true;
    input.setAttribute("aria-describedby", error.id);
    input.addEventListener("input", function () { setFieldError(input, null); });
    wrap.appendChild(label);
    wrap.appendChild(input);
    wrap.appendChild(error);
    container.appendChild(wrap);
    return input;
  }

  function setFieldError(input, message) {
    var error = $(input.id + "-error");
    error.textContent = message || "";
    error.hidden = !message;
    if (message) input.setAttribute("aria-invalid", "true");
    else input.removeAttribute("aria-invalid");
  }

  // A job's step of that title (verify-credentials, mfa-challenge, …), or undefined.
  function findStep(job, title) {
    var steps = Array.isArray(job.steps) ? job.steps : [];
    return steps.filter(function (step) { return step && step.title === title; })[0];
  }

  // The fields of a bank's MFA challenge, one per prompt it gives (else one "Answer"), in
  // `container`; returns how many, and the first (to focus).
  function addMfaFields(container, challenge) {
    var prompts = Array.isArray(challenge.input) && challenge.input.length ? challenge.input : ["Answer"];
    var numeric = challenge.method === "token";
    container.textContent = "";
    var inputs = prompts.map(function (prompt, index) {
      return addField(container, {
        id: "mfa-answer-" + index,
        label: String(prompt),
        placeholder: numeric ? "Code" : "Answer",
        autocomplete: numeric && index === 0 ? "one-time-code" : "off",
        inputmode: numeric ? "numeric" : null
      });
    });
    return { count: inputs.length, first: inputs[0] };
  }

  // The answers typed in those fields; an empty one is marked, and the first such returned.
  function mfaAnswers(count) {
    var answers = [];
    var missing = null;
    for (var i = 0; i < count; i++) {
      var input = $("mfa-answer-" + i);
      var value = input.value.trim();
      if (!value) {
        setFieldError(input, "Enter an answer.");
        missing = missing || input;
      }
      answers.push(value);
    }
    return { answers: answers, missing: missing };
  }

  function fieldValue(id) {
    var input = $(id);
    return input ? input.value.trim() : "";
  }

  window.EmulatedPage = Object.freeze({
    UNKNOWN_ERROR: UNKNOWN_ERROR,
    $: $,
    request: request,
    errorText: errorText,
    isInstitution: isInstitution,
    el: el,
    initials: initials,
    logo: logo,
    addField: addField,
    setFieldError: setFieldError,
    findStep: findStep,
    addMfaFields: addMfaFields,
    mfaAnswers: mfaAnswers,
    fieldValue: fieldValue
  });
})();

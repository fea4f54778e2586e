/*
 * blink-control.classic.js: the Basiq Blink JS control, dependency-free. This file is its only
 * source. Loaded with <script src> it sets window.Basiq and window.BlinkError; blink-control.js,
 * the ES module form, imports this file and exports the same two.
 *
 * It shows the Blink page in an iframe (a modal <dialog>, or inline in an element) and hands
 * Blink's events (handshake, job, connection, cancellation, completion) to callbacks. It keeps
 * the API of Basiq's own control (new Basiq({...}), addListener(name or [names],
 * cb(payload, name)), render(), show(), hide(), destroy()), so a page written for that control
 * works by changing its script tag, and adds: a Blink URL option, the parent_origin hand-off,
 * once(), removeListener(), a promise-returning connect(), strict origin and source checks on
 * every message, listener clean-up on destroy(), and callback errors reported instead of
 * swallowed. See README.md here.
 */
(function () {
  "use strict";

  const DEFAULT_BLINK_HOST = "//js.basiq.io/";
  const DEFAULT_TIMEOUT_MS = 120000;
  const DEFAULT_TITLE = "Connect your bank";
  const LOCAL_EVENTS = ["rejected", "error", "close"];
  const STYLE_ID = "basiq-control-style";
  const ROOT_CLASS = "basiq-root";
  const HIDDEN_CLASS = "basiq-is-hidden";

  const CSS = `
  .basiq-root, .basiq-root * { box-sizing: border-box; }
  .basiq-modal {
    position: fixed; inset: 0; margin: auto; padding: 0; border: 0;
    width: 307px; max-width: 100vw;
    height: min(520px, max(450px, calc(100vh - 48px))); max-height: 100vh;
    border-radius: 15px; overflow: hidden; background: #fff;
    box-shadow: 0 20px 50px rgba(15, 23, 42, 0.30), 0 2px 6px rgba(15, 23, 42, 0.20);
    outline: none;
  }
  .basiq-modal::backdrop { background: rgba(15, 23, 42, 0.45); }
  .basiq-modal:focus-visible { box-shadow: 0 0 0 3px rgba(59, 130, 246, 0.65), 0 20px 50px rgba(15, 23, 42, 0.30); }
  @media (max-width: 320px), (max-height: 460px) { .basiq-modal { border-radius: 0; } }
  .basiq-inline { position: relative; display: block; width: 100%; height: 100%; margin: 0; padding: 0; }
  .basiq-frame { display: block; width: 100%; height: 100%; margin: 0; padding: 0; border: 0; background: #fff; }
  .basiq-root.basiq-is-hidden { visibility: hidden !important; }
  `;

  /** The error connect() rejects with: kind is "failure", "cancelled" or "timeout". */
  class BlinkError extends Error {
    constructor(kind, message, details) {
      super(message);
      this.name = "BlinkError";
      this.kind = kind;
      this.event = details && details.event !== undefined ? details.event : null;
      this.payload = details ? details.payload : undefined;
    }
  }

  function encodeParam(name, value) {
    return encodeURIComponent(name) + "=" + encodeURIComponent(String(value));
  }

  function withQuery(base, params) {
    if (!params.length) return base;
    const hashAt = base.indexOf("#");
    const path = hashAt < 0 ? base : base.slice(0, hashAt);
    const hash = hashAt < 0 ? "" : base.slice(hashAt);
    let sep = "&";
    if (path.indexOf("?") < 0) sep = "?";
    else if (/[?&]$/.test(path)) sep = "";
    return path + sep + params.join("&") + hash;
  }

  function exactOrigin(value, what) {
    let url = null;
    try {
      url = new URL(String(value));
    } catch (e) {
      url = null;
    }
    if (!url || url.origin === "null") {
      throw new Error(`${what} must be an origin such as "https://example.com" (got ${JSON.stringify(String(value))})`);
    }
    return url.origin;
  }

  function parentOriginParam(option) {
    if (option === undefined || option === null || option === false) return null;
    if (option === true) {
      const own = window.location.origin;
      if (!own || own === "null") {
        console.warn("[basiq] parentOrigin: this page has no origin to hand to Blink; parent_origin is left out.");
        return null;
      }
      return own;
    }
    return exactOrigin(option, "parentOrigin");
  }

  function buildUrl(options) {
    let base;
    if (options.blinkUrl) {
      base = String(options.blinkUrl);
    } else {
      const page = options.statements === true || options.pdfUpload === true ? "index2.html" : "index.html";
      base = String(options.blinkHost || DEFAULT_BLINK_HOST) + page;
    }
    const iframe = options.iframe !== false;
    const params = [];
    const add = (name, value) => {
      if (value !== undefined && value !== null && value !== "") params.push(encodeParam(name, value));
    };
    if (iframe) add("iframe", "true");
    add("user_id", options.userId);
    add("access_token", options.accessToken);
    if (options.demo === true) add("demo", "true");
    add("connection_id", options.connectionId);
    if (options.ignoreParsing === true) add("ignore_parsing", "true");
    if (options.connect === true) add("connect", "true");
    if (options.upload === true) add("upload", "true");
    add("institution_region", options.institutionRegion);
    if (iframe) add("parent_origin", parentOriginParam(options.parentOrigin));
    return withQuery(base, params);
  }

  function originOf(url) {
    try {
      const origin = new URL(url, window.location.href).origin;
      return origin === "null" ? null : origin;
    } catch (e) {
      return null;
    }
  }

  function ensureStyle(doc, nonce) {
    if (doc.getElementById(STYLE_ID)) return;
    const style = doc.createElement("style");
    style.id = STYLE_ID;
    if (nonce) style.nonce = nonce;
    style.textContent = CSS;
    (doc.head || doc.documentElement).appendChild(style);
  }

  function removeStyleIfUnused(doc) {
    if (doc.querySelector("." + ROOT_CLASS)) return;
    const style = doc.getElementById(STYLE_ID);
    if (style) style.remove();
  }

  function names(eventOrArray) {
    const list = Array.isArray(eventOrArray) ? eventOrArray : [eventOrArray];
    list.forEach((name) => {
      if (typeof name !== "string" || !name) throw new Error("Event names must be non-empty strings");
    });
    return list;
  }

  function checkCallback(cb) {
    if (typeof cb !== "function") throw new Error("Passed callback must be a function");
  }

  class Basiq {
    /**
     * @param {object} options userId and accessToken (required unless demo), connectionId, demo,
     *   domElementId or element, blinkUrl or blinkHost, parentOrigin, iframe, mode ("modal" or
     *   "inline"), timeout (ms, for connect(); 0 = none), allowedOrigin, autoDestroy, title,
     *   styleNonce, and the seed's statements/pdfUpload, ignoreParsing, connect, upload,
     *   institutionRegion.
     */
    constructor(options) {
      const o = Object.assign({}, options || {});
      if (o.demo !== true && (!o.userId || !o.accessToken)) {
        throw new Error("You need to pass the user id and access token to the control");
      }
      if (o.mode !== undefined && o.mode !== "modal" && o.mode !== "inline") {
        throw new Error(`mode must be "modal" or "inline" (got ${JSON.stringify(o.mode)})`);
      }
      this.options = o;
      this.mode = o.mode || "modal";
      this.timeout = o.timeout === undefined || o.timeout === null ? DEFAULT_TIMEOUT_MS : Number(o.timeout);
      this.autoDestroy = o.autoDestroy !== false;
      this.url = buildUrl(o);
      const allowed = o.allowedOrigin ? exactOrigin(o.allowedOrigin, "allowedOrigin") : originOf(this.url);
      if (!allowed) throw new Error("Cannot tell the origin of the Blink URL: pass allowedOrigin");
      this.allowedOrigin = allowed;
      this.iframe = null;
      this.rendered = false;
      this.visible = false;
      this.rejectedCount = 0;
      this.listeners = {};

      this._root = null;
      this._answered = false;
      this._connection = null;
      this._pending = null;
      this._onMessage = this._onMessage.bind(this);
    }

    // -- callbacks ---------------------------------------------------------------------------------

    /** Call cb(payload, name) for every accepted event of that name (or names). */
    addListener(events, cb) {
      checkCallback(cb);
      names(events).forEach((name) => {
        (this.listeners[name] = this.listeners[name] || []).push(cb);
      });
      return this;
    }

    /** Like addListener, but cb runs at most once in all (whichever of the names comes first). */
    once(events, cb) {
      checkCallback(cb);
      const list = names(events);
      const self = this;
      const wrapper = function (payload, name) {
        list.forEach((each) => self._remove(each, wrapper));
        return cb.call(this, payload, name);
      };
      wrapper.basiqOriginal = cb;
      list.forEach((name) => {
        (this.listeners[name] = this.listeners[name] || []).push(wrapper);
      });
      return this;
    }

    /** Remove cb (each registration of it, by addListener or once) from the name or names; no cb: all. */
    removeListener(events, cb) {
      names(events).forEach((name) => {
        if (cb === undefined) delete this.listeners[name];
        else this._remove(name, cb);
      });
      return this;
    }

    _remove(name, cb) {
      const list = this.listeners[name];
      if (!list) return;
      const kept = list.filter((fn) => fn !== cb && fn.basiqOriginal !== cb);
      if (kept.length) this.listeners[name] = kept;
      else delete this.listeners[name];
    }

    _emit(name, payload) {
      const list = (this.listeners[name] || []).slice();
      list.forEach((cb) => {
        try {
          cb.call(this, payload, name);
        } catch (error) {
          console.error(`[basiq] a callback for "${name}" threw:`, error);
          if (name !== "error") this._emit("error", { error: error, event: name });
        }
      });
    }

    // -- rendering ---------------------------------------------------------------------------------

    _hostElement() {
      const o = this.options;
      if (o.element) return o.element;
      if (o.domElementId) {
        const found = document.getElementById(o.domElementId);
        if (!found) throw new Error(`No element with id "${o.domElementId}" to render Blink into`);
        return found;
      }
      if (!document.body) throw new Error("No body element found in your document");
      return document.body;
    }

    /** Create the iframe (or show it again if it is there) and start listening to it. */
    render() {
      if (this.rendered) return this.show();
      const host = this._hostElement();
      const doc = host.ownerDocument || document;
      ensureStyle(doc, this.options.styleNonce);

      const iframe = doc.createElement("iframe");
      iframe.id = "basiq-modal-frame";
      iframe.className = "basiq-frame";
      iframe.title = this.options.title || DEFAULT_TITLE;
      iframe.setAttribute("frameborder", "0");
      iframe.src = this.url;

      let root;
      if (this.mode === "modal") {
        // showModal() makes the rest of the page inert, keeps focus inside, shows ::backdrop,
        // restores focus on close() and fires "cancel" on Escape.
        root = doc.createElement("dialog");
        root.id = "basiq-modal-container";
        root.className = `${ROOT_CLASS} basiq-modal`;
        root.setAttribute("aria-label", iframe.title);
        root.tabIndex = -1;
        root.addEventListener("cancel", () => this._close("escape"));
      } else {
        root = doc.createElement("div");
        root.id = "basiq-inline-container";
        root.className = `${ROOT_CLASS} basiq-inline ${HIDDEN_CLASS}`;
      }
      root.appendChild(iframe);

      this._root = root;
      this.iframe = iframe;
      this.rendered = true;
      this._answered = false;
      this._connection = null;
      window.addEventListener("message", this._onMessage);
      host.appendChild(root);
      return this.show();
    }

    show() {
      if (!this.rendered) throw new Error("Component has not been rendered");
      this.visible = true;
      if (this.mode === "inline") {
        this._root.classList.remove(HIDDEN_CLASS);
      } else if (!this._root.open) {
        this._root.showModal();
        // showModal() focuses the iframe, and Escape pressed inside cross-origin Blink never
        // reaches this page: start on the dialog itself, where Escape closes it.
        this._root.focus({ preventScroll: true });
      }
      return this;
    }

    hide() {
      if (!this.rendered) throw new Error("Component has not been rendered");
      this.visible = false;
      if (this.mode === "inline") this._root.classList.add(HIDDEN_CLASS);
      else this._root.close();
      return this;
    }

    /** Hide Blink and end a pending connect() as cancelled; fires "close". Escape does this. */
    close() {
      return this._close("close");
    }

    _close(reason) {
      if (!this.rendered) return this;
      this.hide();
      this._settle(null, new BlinkError("cancelled", "Blink was closed", { event: "close" }));
      this._emit("close", { reason: reason });
      return this;
    }

    /** Remove the iframe, the window listener and every callback. Safe to call more than once. */
    destroy() {
      if (this.rendered) {
        // close() first: removing an open dialog would not give focus back.
        this.hide();
        window.removeEventListener("message", this._onMessage);
        const root = this._root;
        const doc = root.ownerDocument;
        root.remove();
        removeStyleIfUnused(doc);
        this._root = null;
        this.iframe = null;
        this.rendered = false;
        this.visible = false;
      }
      this.listeners = {};
      this._settle(null, new BlinkError("cancelled", "The control was destroyed", { event: "destroy" }));
      return this;
    }

    // -- messages ----------------------------------------------------------------------------------

    _onMessage(event) {
      let reason = null;
      let data = event.data;
      if (event.origin !== this.allowedOrigin) {
        reason = "origin";
      } else if (!this.iframe || event.source !== this.iframe.contentWindow) {
        reason = "source";
      } else if (typeof data === "string") {
        try {
          data = JSON.parse(data);
        } catch (e) {
          reason = "unparseable";
        }
      }
      if (!reason && (!data || typeof data !== "object" || typeof data.event !== "string" || !data.event)) {
        reason = "malformed";
      }
      if (!reason && LOCAL_EVENTS.indexOf(data.event) >= 0) reason = "reserved";
      if (reason) {
        this.rejectedCount += 1;
        this._emit("rejected", { origin: event.origin, reason: reason });
        return;
      }
      this._accept(data.event, data.payload);
    }

    /** An event from Blink, after the checks: settle connect(), call back, auto-destroy. */
    _accept(name, payload) {
      this._answered = true;
      if (this._pending && this._pending.timer !== null) {
        clearTimeout(this._pending.timer);
        this._pending.timer = null;
      }
      const success = !!payload && payload.success === true;
      if (name === "connection" && success && payload.data && payload.data.id) {
        this._connection = payload;
        this._settle(payload, null);
      } else if (name === "connection" || (name === "job" && payload && payload.success === false)) {
        const detail = payload && payload.data && (payload.data.detail || payload.data.title);
        this._settle(null, new BlinkError("failure", detail || "The bank connection failed", { event: name, payload }));
      } else if (name === "cancellation") {
        this._settle(null, new BlinkError("cancelled", "The user closed Blink", { event: name }));
      } else if (name === "completion") {
        this._settle(null, new BlinkError("cancelled", "Blink finished without a connection", { event: name }));
      }
      const root = this._root;
      this._emit(name, payload);
      // Unless a callback already destroyed it (and perhaps rendered a new Blink).
      const ended = name === "cancellation" || name === "completion";
      if (ended && this.autoDestroy && this._root === root) this.destroy();
    }

    // -- connect() ---------------------------------------------------------------------------------

    /**
     * Render (or show) Blink and wait for the connection. Resolves with the connection payload
     * ({success: true, data: {id}}); rejects with a BlinkError of kind "failure" (.payload is
     * Blink's payload), "cancelled" (Blink's close button, Escape, close() or destroy()) or
     * "timeout" (Blink sent nothing within options.timeout ms).
     */
    connect() {
      if (this._pending) return this._pending.promise;
      this.render();
      if (this._connection) return Promise.resolve(this._connection);
      const pending = { promise: null, resolve: null, reject: null, timer: null };
      pending.promise = new Promise((resolve, reject) => {
        pending.resolve = resolve;
        pending.reject = reject;
      });
      this._pending = pending;
      const ms = this.timeout;
      if (!this._answered && ms > 0 && Number.isFinite(ms)) {
        pending.timer = setTimeout(() => {
          pending.timer = null;
          if (this._pending === pending) {
            this._settle(null, new BlinkError("timeout", `Blink did not answer within ${ms} ms`, { event: null }));
          }
        }, ms);
      }
      return pending.promise;
    }

    _settle(value, error) {
      const pending = this._pending;
      if (!pending) return;
      this._pending = null;
      if (pending.timer !== null) clearTimeout(pending.timer);
      if (error) pending.reject(error);
      else pending.resolve(value);
    }
  }

  window.Basiq = Basiq;
  window.BlinkError = BlinkError;
})();

// The desktop host page. Blink and its events come through the JS control; the only
// desktop-specific part is handing accepted events to Python through the bridge, with its token.
// Blink's event names come from the bridge (bootstrap().events), the one list Python keeps.
//
// Messages: one at a time, current, in our own words. While Blink is on screen it shows its own
// results, so the panel adds nothing to a failure Blink displays; the panel's line is for what
// only the app knows (retrieving the data after Blink's success, a slow Blink, our own errors),
// and any new event from Blink clears it. The main notice tells what happened after the panel
// closed (a connection that finished later, or did not).
import Basiq from "../control/blink-control.js";
import * as connectionPage from "./connection.js";
import * as consent from "./consent.js";
import { STATUS, logoOf, when } from "./format.js";

const $ = (id) => document.getElementById(id);

// Without Blink's handshake by then, our close button comes back with a word on what is wrong.
const HANDSHAKE_TIMEOUT_MS = 10000;
// A Blink loaded ahead is dropped this long before Python says its token is due for renewal.
const PRELOAD_MARGIN_MS = 5000;
const PRELOAD_HELD_EVENTS = 20;
const FOLLOW_INTERVAL_MS = 1000;
const FOLLOW_ATTEMPTS = 600;

// window.pywebview appears after load; every call waits for it, so nothing is lost before then.
// pywebview injects it on each load it sees, and may do so twice into one page (the window
// loaded again, back from the Consent UI): the second replaces window.pywebview, so a page
// that listened once may miss its event, and the answers of calls in flight are dropped. So the
// bridge is looked for as well as awaited, and a call that only reads is made again on a new one.
const bridged = () => {
  const bridge = window.pywebview;
  return Boolean(bridge && bridge.api && bridge.api.bootstrap && (bridge.platform !== "qtwebengine" || bridge._QWebChannel));
};
const ready = new Promise((resolve) => {
  if (bridged()) return resolve();
  const found = () => {
    clearInterval(look);
    resolve();
  };
  const look = setInterval(() => bridged() && found(), 50);
  window.addEventListener("pywebviewready", found, { once: true });
});
const REPEATABLE = new Set(["bootstrap", "consent_return", "prepare_connect", "reconcile", "connections", "progress"]);

// The same call on the bridge that replaces `bridge` (a new object, or a new channel to Python
// in the same one), should one come before `call` answers.
function onNewBridge(bridge, call, again) {
  const channel = bridge._QWebChannel;
  return new Promise((resolve) => {
    const swapped = () => {
      if (window.pywebview === bridge && bridge._QWebChannel === channel) return;
      window.removeEventListener("pywebviewready", swapped);
      resolve(again());
    };
    const done = () => window.removeEventListener("pywebviewready", swapped);
    window.addEventListener("pywebviewready", swapped);
    call.then(done, done);
  });
}

async function py(name, ...args) {
  await ready;
  const bridge = window.pywebview;
  const method = bridge.api[name];
  if (typeof method !== "function") {
    // An older bridge: callers treat this as "not available" and carry on.
    return { ok: false, missing: true, error: `blink-desktop cannot ${name} yet.`, retry: false };
  }
  try {
    const call = method(bridge.token, ...args);
    if (!REPEATABLE.has(name)) return await call;
    return await Promise.race([call, onNewBridge(bridge, call, () => py(name, ...args))]);
  } catch (error) {
    return { ok: false, error: `blink-desktop could not answer (${error.message || error}).`, retry: true };
  }
}

let boot = null;
let blink = null;
let preload = null; // the next connect's Blink, loaded ahead in the hidden panel (prepare())
let preparing = false;
let forwarding = Promise.resolve();
let attempt = null; // the open panel's connect attempt
let listed = []; // every connection Python holds, for every person
const seen = new Set(); // connection ids the person already knows about
const following = new Map(); // job id -> {connection, done, label, attempt}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// Whether Blink is the emulator's: known once the app behind the window has started.
function setMode(mode) {
  if (mode !== "emulator" && mode !== "basiq") return;
  document.body.dataset.mode = mode;
  $("mode-badge").hidden = mode !== "emulator";
}

function notice(text, kind = "info") {
  const box = $("notice");
  box.textContent = text || "";
  box.dataset.kind = kind;
  box.hidden = !text;
}

// Lists

function progressOf(connectionId) {
  return [...following.values()].find((entry) => entry.connection === connectionId && !entry.done);
}

function card(item) {
  const li = document.createElement("li");
  li.className = "item";
  li.dataset.id = item.id;
  li.dataset.status = item.status;
  const body = document.createElement("div");
  body.className = "item-body";
  const name = document.createElement("p");
  name.className = "item-name";
  const open = document.createElement("button"); // opens its page (connection.js)
  open.type = "button";
  open.className = "item-open";
  open.textContent = item.institution || "Bank connection";
  name.append(open);
  body.append(name);
  if (typeof item.detail === "string" && item.detail.trim()) {
    const detail = document.createElement("p");
    detail.className = "item-detail";
    detail.textContent = item.detail;
    body.append(detail);
  }
  const meta = document.createElement("p");
  meta.className = "item-meta";
  meta.textContent = `Connected ${when(item.created)}`;
  const id = document.createElement("code");
  id.className = "item-id";
  id.textContent = item.id;
  body.append(meta, id);
  const status = document.createElement("span");
  status.className = `status status-${item.status}`;
  status.textContent = STATUS[item.status] || item.status;
  const progress = item.status === "connected" && progressOf(item.id);
  if (progress) status.textContent = progress.label;
  li.append(logoOf(item), body, status);
  return li;
}

// The current person's connections: the store keeps everyone's, each with its Basiq user id.
// A bridge that does not say whose the list is (no bootstrap().user_id) gets every connection.
function mine(items) {
  const user = boot && boot.user_id;
  return user ? items.filter((item) => item.user_id === user) : items;
}

// Drawing the list anew (a job that finished, a reconcile) must not take focus from the row
// the person is on: the same control of the same connection gets it back.
function focusedInRow() {
  const active = document.activeElement;
  const row = active && active.closest ? active.closest("#connections .item") : null;
  if (!row || !active.className) return null;
  const selector = `#connections .item[data-id="${CSS.escape(row.dataset.id)}"] .${CSS.escape(active.className.split(" ")[0])}`;
  return { restore: () => document.querySelector(selector)?.focus({ preventScroll: true }) };
}

function renderList(items, { quiet = false } = {}) {
  listed = items;
  const shown = mine(items);
  const focus = focusedInRow();
  $("connections").replaceChildren(...shown.map(card));
  if (focus) focus.restore();
  $("empty").hidden = shown.length > 0;
  connectionPage.listChanged(shown);
  // A connection nobody saw arrive (it finished after the panel closed, or was found at
  // Basiq) is announced once, when it is active: a pending one may yet fail.
  const fresh = shown.filter((item) => !seen.has(item.id) && (quiet || item.status === "active"));
  fresh.forEach((item) => seen.add(item.id));
  if (fresh.length && !quiet) {
    const names = fresh.map((item) => item.institution || "A bank").join(", ");
    notice(`${names} connected and added to your list.`, "success");
  }
}

async function refreshList(options) {
  const reply = await py("connections");
  if (reply.ok) renderList(reply.connections, options);
  else notice(reply.error, "error");
}

// Basiq may hold connections this computer never heard of (a job that finished after the
// panel closed, or another device): list them there and adopt what the store lacks.
async function reconcile() {
  const reply = await py("reconcile");
  if (reply.ok) setMode(reply.mode);
  if (reply.ok && Array.isArray(reply.connections)) renderList(reply.connections);
  else if (!reply.ok && !reply.missing) console.warn("reconcile:", reply.error);
}

// Who is connecting

function showIdentity() {
  const known = Boolean(boot && boot.identifier);
  $("identity").hidden = !known;
  $("identity-name").textContent = known ? boot.identifier : "";
}

function askWho({ switching = false } = {}) {
  const form = $("who");
  form.hidden = false;
  form.dataset.switching = String(switching);
  $("who-cancel").hidden = !switching;
  $("who-error").hidden = true;
  $("who-input").removeAttribute("aria-invalid");
  $("who-input").value = switching ? boot.identifier || "" : "";
  $("connect").disabled = true;
  $("switch").disabled = true;
  $("who-input").focus();
  if (switching) $("who-input").select();
}

function closeWho() {
  $("who").hidden = true;
  $("connect").disabled = !boot.identifier;
  $("switch").disabled = false;
}

$("who-cancel").addEventListener("click", () => {
  closeWho();
  $("switch").focus();
});

$("who").addEventListener("submit", async (event) => {
  event.preventDefault();
  const switching = $("who").dataset.switching === "true";
  const reply = await py("set_identifier", $("who-input").value);
  $("who-error").hidden = reply.ok;
  if (!reply.ok) {
    $("who-error").textContent = reply.error;
    $("who-input").setAttribute("aria-invalid", "true");
    $("who-input").focus();
    return;
  }
  const changed = reply.identifier !== boot.identifier;
  boot.identifier = reply.identifier;
  if (changed) boot.user_id = reply.user_id; // undefined from an older bridge: list everyone's
  if (changed) dropPreload(); // it was the other person's
  setMode(reply.mode);
  closeWho();
  showIdentity();
  if (!switching) {
    openPanel();
    return;
  }
  $("connect").focus();
  if (!changed) return;
  notice("");
  seen.clear();
  await refreshList({ quiet: true }); // this person's list as the store has it
  reconcile(); // and whatever Basiq holds for them that this computer never saw
  prepare();
});

$("switch").addEventListener("click", () => askWho({ switching: true }));

// The connect panel

function panelState(state, text = "") {
  $("panel-loading").hidden = state !== "loading";
  $("panel-error").hidden = state !== "error";
  $("blink-host").hidden = state !== "blink";
  $("panel-error-text").textContent = state === "error" ? text : "";
  if (state !== "blink") closeControl("app"); // no Blink on screen: only ours can close
}

function panelStatus(text, kind = "info") {
  const line = $("panel-status");
  line.textContent = text || "";
  line.dataset.kind = kind;
  line.hidden = !text;
}

// One visible close control: ours until Blink's handshake shows Blink (and its own close
// button, which reports cancellation) is alive; ours again if Blink never says hello or goes.
// Escape, Ctrl+W and Ctrl+Q close the panel (Ctrl+Q the window) wherever focus is.
function closeControl(owner) {
  const box = $("panel-box");
  if (box.dataset.close === owner) return;
  const hadFocus = document.activeElement === $("panel-close");
  box.dataset.close = owner;
  $("panel-close").hidden = owner !== "app";
  if (hadFocus && owner !== "app") box.focus({ preventScroll: true });
}

function setInert(on) {
  for (const element of document.querySelectorAll("body > header, body > main, body > footer")) {
    element.inert = on;
  }
}

// `fix`: a connection id, to log in to its bank again (Blink's update mode) from its page.
let panelFix = null; // the fix the panel is for, so Retry retries it

async function openPanel(fix = null) {
  if (!boot.identifier) return askWho();
  panelFix = fix;
  const current = { jobId: null, verdict: null, handshake: false, timer: null, ended: false, origin: null };
  attempt = current;
  notice("");
  $("panel").hidden = false;
  setInert(true);
  panelStatus("");
  $("panel-title").textContent = fix ? "Fix a bank connection" : "Connect a bank";
  if (fix) dropPreload(); // that Blink is for a new connection
  const ready = fix ? null : takePreload();
  if (ready) {
    openPreloaded(ready, current);
    return;
  }
  panelState("loading");
  $("panel-close").focus();
  if (await consent.on()) {
    // The consent flow: Basiq's Consent UI, top level (it refuses iframes), instead of Blink.
    const visit = await consent.start(fix ? "connect" : null, fix);
    if (attempt === current && !startFailed(visit)) consent.go(visit);
    return;
  }
  const reply = fix
    ? await py("start_connect", window.location.origin, null, fix)
    : await py("start_connect", window.location.origin);
  if (attempt !== current) return; // closed while we waited
  if (!startFailed(reply)) showBlink(reply, current);
}

// What start_connect answered, for the list: the Basiq user this identity connects as (made on
// first connect when bootstrap had none); and whether it failed, which the panel then says.
function startFailed(reply) {
  if (reply.ok && "user_id" in boot && reply.user_id && boot.user_id !== reply.user_id) {
    boot.user_id = reply.user_id;
    refreshList({ quiet: true });
  }
  if (reply.ok) {
    setMode(reply.mode);
    return false;
  }
  panelState("error", reply.error);
  $("panel-retry").hidden = reply.retry === false;
  ($("panel-retry").hidden ? $("panel-close") : $("panel-retry")).focus();
  return true;
}

// Blink at a session's URL (start_connect's or prepare_connect's answer), in the panel.
function renderBlink(start, sink) {
  const control = new Basiq({
    userId: start.user_id,
    accessToken: start.access_token,
    blinkUrl: start.blink_url,
    parentOrigin: start.parent_origin,
    iframe: boot.transport === "iframe",
    allowedOrigin: start.blink_origin,
    connectionId: start.connection_id || undefined,
    mode: "inline",
    element: $("blink-host"),
    timeout: 0,
  });
  control.addListener(boot.events, (payload, event) => sink(event, payload));
  control.addListener("rejected", (info) => reportDropped(info && info.origin));
  control.render();
  return control;
}

function showBlink(start, current) {
  destroyBlink();
  panelState("blink");
  current.origin = start.blink_origin;
  blink = renderBlink(start, (event, payload) => forward(event, payload, current));
  watchHandshake(current);
}

function watchHandshake(current) {
  clearTimeout(current.timer);
  current.timer = setTimeout(() => {
    if (attempt !== current || current.handshake) return;
    closeControl("app");
    panelStatus("The bank connection page has not answered. Close it and try again if it stays like this.", "warn");
  }, HANDSHAKE_TIMEOUT_MS);
}

// Blink loaded ahead: the next connect's, in the hidden panel, so a click on "Connect a bank"
// shows it at once. What it says before then waits, in order, for the person to open it. It
// is replaced before Python says its token is due, and never used after (see takePreload).
async function prepare() {
  if (!boot || !boot.identifier || boot.transport !== "iframe" || preload || preparing || attempt) {
    return;
  }
  const who = boot.identifier;
  preparing = true;
  const reply = await py("prepare_connect", window.location.origin);
  preparing = false;
  if (reply.ok) setMode(reply.mode);
  else if (reply.retry === false && !reply.missing) notice(reply.error, "error"); // e.g. settings
  const usable = reply.ok ? reply.fresh_ms - PRELOAD_MARGIN_MS : 0;
  if (usable <= 0 || attempt || preload || boot.identifier !== who) return;
  const entry = { start: reply, held: [], control: null, timer: null };
  entry.until = Date.now() + usable; // the wall clock moves while a computer sleeps,
  entry.untilTicks = performance.now() + usable; // this one never goes back
  entry.sink = (event, payload) => {
    if (entry.held.length < PRELOAD_HELD_EVENTS) entry.held.push([event, payload]);
  };
  try {
    entry.control = renderBlink(reply, (event, payload) => entry.sink(event, payload));
  } catch (error) {
    console.warn("[desktop] loading Blink ahead failed; Connect will load it:", error);
    return;
  }
  entry.timer = setTimeout(() => {
    if (preload !== entry) return;
    dropPreload();
    prepare();
  }, usable);
  preload = entry;
}

function dropPreload() {
  const entry = preload;
  preload = null;
  if (!entry) return;
  clearTimeout(entry.timer);
  try {
    entry.control.destroy();
  } catch (error) {
    // Already gone.
  }
}

// The Blink loaded ahead, if it may still be used; a stale one is dropped.
function takePreload() {
  const entry = preload;
  if (!entry) return null;
  if (Date.now() >= entry.until || performance.now() >= entry.untilTicks) {
    dropPreload();
    return null;
  }
  preload = null;
  clearTimeout(entry.timer);
  return entry;
}

function openPreloaded(entry, current) {
  panelState("blink");
  $("panel-close").focus();
  blink = entry.control;
  current.origin = entry.start.blink_origin;
  watchHandshake(current);
  // Python makes the preloaded session this attempt's before it hears anything Blink said.
  forwarding = forwarding
    .then(() => py("start_connect", window.location.origin, entry.start.session))
    .then((reply) => {
      if (attempt !== current || startFailed(reply)) return;
      if (reply.replaced) showBlink(reply, current); // its token could not be used after all
    })
    .catch((error) => console.error("[desktop] starting the connect failed:", error));
  entry.sink = (event, payload) => forward(event, payload, current);
  entry.held.forEach(([event, payload]) => forward(event, payload, current));
}

function destroyBlink() {
  if (!blink) return;
  const control = blink;
  blink = null;
  try {
    control.destroy();
  } catch (error) {
    // The control destroys itself after cancellation and completion.
  }
}

/** Close the panel, however asked (our button, Escape, Ctrl+W, Blink's close or Done). */
function closePanel() {
  if ($("panel").hidden) return false;
  const ended = attempt;
  attempt = null;
  destroyBlink();
  $("panel").hidden = true;
  setInert(false);
  panelStatus("");
  panelState("loading");
  (connectionPage.isOpen() ? $("conn-title") : $("connect")).focus();
  if (ended) endAttempt(ended);
  prepare(); // the next connect's Blink
  return true;
}

// The attempt is over for the person, not necessarily at Basiq: a job Blink started goes on
// after the panel closes. Follow it to its end, unless Blink already said how it ended; then
// ask Basiq for anything the store still lacks (a job whose id never reached us included).
async function endAttempt(ended) {
  ended.ended = true;
  clearTimeout(ended.timer);
  await forwarding; // the events Blink sent before the panel closed, the job's id among them
  if (ended.jobId && !ended.verdict) await follow(ended.jobId, null, ended);
  await reconcile();
}

$("connect").addEventListener("click", () => openPanel());
$("panel-retry").addEventListener("click", () => openPanel(panelFix));
connectionPage.setup({
  py,
  notice,
  refreshList,
  fix: (connectionId) => openPanel(connectionId),
});
$("panel-close").addEventListener("click", () => closePanel());

// Keys the host page sees itself (focus outside Blink). The window catches the same keys
// wherever focus is, Blink included, and calls window.desktop.shortcut().
function escape() {
  if (closePanel()) return true;
  if (!$("who").hidden && $("who").dataset.switching === "true") {
    $("who-cancel").click();
    return true;
  }
  return connectionPage.escape();
}

document.addEventListener("keydown", (event) => {
  if (event.key === "Escape" && escape()) event.preventDefault();
});

// Blink's events, in order, to Python; then what they mean for the window

function forward(event, payload, current) {
  const data = JSON.stringify(payload === undefined ? { event } : { event, payload });
  const message = { origin: current.origin, data };
  forwarding = forwarding
    .then(() => py("receive", message))
    .then((outcome) => handle(outcome, current))
    .catch((error) => console.error(`[desktop] handling ${event} failed:`, error)); // the next goes on
  return forwarding;
}

function reportDropped(origin) {
  py("dropped", origin || "").then((reply) => {
    if (!reply.ok) return;
    const label = $("dropped");
    label.textContent = `${reply.dropped} message${reply.dropped === 1 ? "" : "s"} from an unexpected page ignored`;
    label.hidden = false;
  });
}

function handle(outcome, current = attempt) {
  const live = Boolean(current) && current === attempt;
  if (!outcome.ok) {
    // Our own trouble (the event could not be saved): Blink cannot know, so we say it.
    if (live) panelStatus(outcome.error, "error");
    else notice(outcome.error, "error");
    return;
  }
  if (!outcome.accepted) return; // logged as rejected, with the reason, in the event log
  if (live) panelStatus(""); // whatever we said before is no longer current
  const { event } = outcome;
  if (current && outcome.job_id && (event === "job" || !current.jobId)) current.jobId = outcome.job_id;
  if (event === "handshake") {
    if (current) current.handshake = true;
    if (live) closeControl("blink");
  } else if (event === "job" && outcome.success !== false) {
    if (current) current.verdict = null; // a new attempt inside the same panel
  } else if (event === "connection" && outcome.success) {
    if (current) current.verdict = "connected";
    const connectionId = outcome.connection && outcome.connection.id;
    if (connectionId) seen.add(connectionId);
    if (live) panelStatus("Connected. Retrieving your accounts…", "success");
    if (outcome.job_id) follow(outcome.job_id, connectionId, current);
    refreshList();
  } else if (event === "connection" || event === "job") {
    // Blink shows this failure itself, with its own "Try again": nothing to add over it.
    if (current) current.verdict = "failed";
  } else if (event === "cancellation" || event === "completion") {
    if (live) closePanel();
  }
}

// Blink stops at verify-credentials; follow the job until the data is in

const STEP_NAMES = { "retrieve-accounts": "accounts", "retrieve-transactions": "transactions" };

function label(steps) {
  const running = steps.find((step) => step.status !== "success" && step.status !== "skipped");
  return running && STEP_NAMES[running.title] ? `Retrieving ${STEP_NAMES[running.title]}…` : "Retrieving data";
}

// Why a job failed, in words a person understands, from its failed step and Basiq's code (the
// code, when the bridge passes it on). Never Basiq's title and detail glued together.
function whyNot(steps, failure) {
  const failed = steps.filter((step) => step.status === "failed");
  const titles = failed.map((step) => step.title);
  const code = (failure && failure.code) || "";
  if (code === "job-timed-out" || code === "mfa-timed-out") {
    return "the bank's security question was not answered in time.";
  }
  if (titles.includes("mfa-challenge")) {
    // Without Basiq's code a wrong answer and one that came too late look the same.
    if (!code) return "the answer to the bank's security question was wrong or came too late.";
    return "the bank did not accept the answer to its security question.";
  }
  if (code === "account-not-accessible-requires-user-action") {
    return "the bank needs you to sign in to its own website or app first.";
  }
  if (code === "service-unavailable" || code === "institution-not-available" || code === "maintenance") {
    return "the bank is not available at the moment. Try again later.";
  }
  if (titles.includes("verify-credentials")) return "the bank did not accept the login details.";
  return "the bank could not be connected.";
}

function panelProgress(entry, text, kind) {
  if (entry.attempt && entry.attempt === attempt) panelStatus(text, kind);
}

async function follow(jobId, connectionId, owner = null) {
  if (following.has(jobId)) return;
  const entry = { connection: connectionId || null, done: false, label: "Retrieving data", attempt: owner };
  following.set(jobId, entry);
  for (let round = 0; round < FOLLOW_ATTEMPTS; round += 1) {
    const reply = await py("progress", jobId);
    if (reply.ok) {
      const steps = Array.isArray(reply.steps) ? reply.steps : [];
      entry.connection = reply.connection_id || entry.connection;
      entry.label = label(steps);
      entry.done = Boolean(reply.done);
      if (!entry.done && entry.connection) panelProgress(entry, `Connected. ${entry.label}`, "success");
      await refreshList();
      if (entry.done) {
        finished(entry, reply, steps);
        return;
      }
    } else if (reply.retry === false) {
      entry.done = true; // the bridge cannot follow this job (any more); reconcile still can
      return;
    }
    await sleep(FOLLOW_INTERVAL_MS);
  }
}

function finished(entry, reply, steps) {
  const verified = !steps.some((step) => step.title === "verify-credentials" && step.status === "failed");
  const inPanel = entry.attempt && entry.attempt === attempt;
  if (!reply.failed) {
    panelProgress(entry, "", "info"); // the row says Active: the line has nothing left to say
    return;
  }
  if (verified && entry.connection) {
    const text = "The bank connected, but retrieving its accounts failed. Try again later.";
    if (inPanel) panelStatus(text, "error");
    else notice(text, "error");
  } else if (!inPanel) {
    // The person left before Blink could say (Blink shows it itself while it is open).
    notice(`Not connected: ${whyNot(steps, reply.failure)}`, "error");
  }
}

// The window's own keys (Qt), and basiq:// mode: Python calls these

window.desktop = {
  onSchemeOutcome(outcome) {
    handle({ ok: true, ...outcome });
  },
  /** "escape" or "close" pressed anywhere in the window; true if the page did something. */
  shortcut(action) {
    if (action === "escape") return escape();
    if (action === "close") return closePanel();
    return false;
  },
};

async function start() {
  const reply = await py("bootstrap");
  if (!reply.ok) {
    notice(reply.error, "error");
    return;
  }
  boot = reply;
  setMode(boot.mode);
  showIdentity();
  // bootstrap() has asked Basiq already when it says what it found; the rest are known.
  const found = Array.isArray(boot.found) ? boot.found : [];
  boot.connections.forEach((item) => found.includes(item.id) || seen.add(item.id));
  renderList(boot.connections);
  const announce = (ids) => ids.forEach((id) => seen.delete(id)); // a visit's, once active
  const reopen = (connectionId, loggedIn) => connectionPage.resume(connectionId, loggedIn); // after a Fix
  consent.setup({ py, notice, follow: (jobId) => follow(jobId), refreshList, setMode, announce, reopen }, boot.flow);
  if (boot.identifier) {
    $("connect").disabled = false;
    // Blink first: asking Basiq for the list can wait until Blink is on its way.
    await prepare();
    if (!Array.isArray(boot.found)) reconcile();
  } else {
    askWho();
    reconcile(); // nothing to reconcile yet, but it says whether Blink is the emulator's
  }
}

start();

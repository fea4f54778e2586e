// The desktop host page. Blink and its events come through the JS control; the only
// desktop-specific part is handing accepted events to Python through the bridge, with its token.
// Blink's event names come from the bridge (bootstrap().events), the one list Python keeps.
import Basiq from "../control/blink-control.js";

const $ = (id) => document.getElementById(id);

// window.pywebview appears after load; every call waits for it, so nothing is lost before then.
const ready = new Promise((resolve) => {
  if (window.pywebview && window.pywebview.api && window.pywebview.api.bootstrap) resolve();
  else window.addEventListener("pywebviewready", () => resolve(), { once: true });
});

async function py(name, ...args) {
  await ready;
  try {
    return await window.pywebview.api[name](window.pywebview.token, ...args);
  } catch (error) {
    return { ok: false, error: `blink-desktop could not answer (${error.message || error}).`, retry: true };
  }
}

let boot = null;
let blink = null;
let forwarding = Promise.resolve();
const following = new Map(); // job id -> latest progress

function notice(text, kind = "info") {
  const box = $("notice");
  box.textContent = text || "";
  box.dataset.kind = kind;
  box.hidden = !text;
}

// Lists

function when(iso) {
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : date.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

const STATUS = {
  connected: "Retrieving data",
  active: "Active",
  failed: "Failed",
};

function card(item) {
  const li = document.createElement("li");
  li.className = "item";
  li.dataset.id = item.id;
  li.dataset.status = item.status;
  const logo = document.createElement(item.logo ? "img" : "span");
  logo.className = "item-logo";
  if (item.logo) {
    logo.src = item.logo;
    logo.alt = "";
  } else {
    logo.textContent = (item.institution || "?").slice(0, 1);
  }
  const body = document.createElement("div");
  body.className = "item-body";
  const name = document.createElement("p");
  name.className = "item-name";
  name.textContent = item.institution || "Bank connection";
  const meta = document.createElement("p");
  meta.className = "item-meta";
  meta.textContent = `Connected ${when(item.created)}`;
  const id = document.createElement("code");
  id.className = "item-id";
  id.textContent = item.id;
  body.append(name, meta, id);
  const status = document.createElement("span");
  status.className = `status status-${item.status}`;
  status.textContent = STATUS[item.status] || item.status;
  const progress = [...following.values()].find((p) => p.connection === item.id && !p.done);
  if (progress) status.textContent = progress.label;
  li.append(logo, body, status);
  return li;
}

function renderList(items) {
  $("connections").replaceChildren(...items.map(card));
  $("empty").hidden = items.length > 0;
}

async function refreshList() {
  const reply = await py("connections");
  if (reply.ok) renderList(reply.connections);
  else notice(reply.error, "error");
}

// Who is connecting

function askWho() {
  $("who").hidden = false;
  $("connect").disabled = true;
  $("who-input").focus();
}

$("who").addEventListener("submit", async (event) => {
  event.preventDefault();
  const reply = await py("set_identifier", $("who-input").value);
  $("who-error").hidden = reply.ok;
  if (!reply.ok) {
    $("who-error").textContent = reply.error;
    $("who-input").setAttribute("aria-invalid", "true");
    return;
  }
  boot.identifier = reply.identifier;
  $("who").hidden = true;
  $("connect").disabled = false;
  openPanel();
});

// The connect panel

function panelState(state, text = "") {
  $("panel-loading").hidden = state !== "loading";
  $("panel-error").hidden = state !== "error";
  $("blink-host").hidden = state !== "blink";
  $("panel-error-text").textContent = state === "error" ? text : "";
}

function panelStatus(text, kind = "info") {
  const line = $("panel-status");
  line.textContent = text || "";
  line.dataset.kind = kind;
  line.hidden = !text;
}

async function openPanel() {
  if (!boot.identifier) return askWho();
  $("panel").hidden = false;
  panelStatus("");
  panelState("loading");
  $("panel-close").focus();
  const reply = await py("start_connect", window.location.origin);
  if ($("panel").hidden) return; // closed while we waited
  if (!reply.ok) {
    panelState("error", reply.error);
    $("panel-retry").hidden = reply.retry === false;
    $("panel-retry").focus();
    return;
  }
  showBlink(reply);
}

function showBlink(start) {
  destroyBlink();
  panelState("blink");
  blink = new Basiq({
    userId: start.user_id,
    accessToken: start.access_token,
    blinkUrl: start.blink_url,
    parentOrigin: start.parent_origin,
    iframe: boot.transport === "iframe",
    allowedOrigin: boot.blink_origin,
    mode: "inline",
    element: $("blink-host"),
    timeout: 0,
  });
  blink.addListener(boot.events, (payload, event) => forward(event, payload));
  blink.addListener("rejected", (info) => reportDropped(info && info.origin));
  blink.render();
}

function destroyBlink() {
  if (!blink) return;
  const current = blink;
  blink = null;
  try {
    current.destroy();
  } catch (error) {
    // The control destroys itself after cancellation and completion.
  }
}

function closePanel() {
  destroyBlink();
  $("panel").hidden = true;
  panelState("loading");
  $("connect").focus();
}

$("connect").addEventListener("click", () => openPanel());
$("panel-retry").addEventListener("click", () => openPanel());
$("panel-close").addEventListener("click", () => closePanel());
document.addEventListener("keydown", (event) => {
  if (event.key === "Escape" && !$("panel").hidden) closePanel();
});

// Blink's events, in order, to Python; then what they mean for the window

function forward(event, payload) {
  const data = JSON.stringify(payload === undefined ? { event } : { event, payload });
  const message = { origin: boot.blink_origin, data };
  forwarding = forwarding.then(() => py("receive", message)).then(handle);
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

function failureText(failure) {
  if (!failure) return "The bank could not be connected.";
  return [failure.title, failure.detail].filter(Boolean).join(" ");
}

function handle(outcome) {
  if (!outcome.ok) {
    panelStatus(outcome.error, "error");
    return;
  }
  if (!outcome.accepted) return;
  if (outcome.event === "connection" && outcome.success) {
    panelStatus("Connected. Retrieving your accounts and transactions…", "success");
    if (outcome.job_id) follow(outcome.job_id, outcome.connection && outcome.connection.id);
    refreshList();
  } else if ((outcome.event === "connection" || outcome.event === "job") && outcome.success === false) {
    panelStatus(`Not connected: ${failureText(outcome.failure)}`, "error");
  } else if (outcome.event === "cancellation" || outcome.event === "completion") {
    closePanel();
  }
}

// Blink stops at verify-credentials; follow the job until the data is in

const STEP_NAMES = { "retrieve-accounts": "accounts", "retrieve-transactions": "transactions" };

function label(steps) {
  const running = steps.find((step) => step.status !== "success" && step.status !== "skipped");
  return running && STEP_NAMES[running.title] ? `Retrieving ${STEP_NAMES[running.title]}…` : "Retrieving data";
}

async function follow(jobId, connectionId) {
  if (following.has(jobId)) return;
  following.set(jobId, { connection: connectionId, done: false, label: "Retrieving data" });
  for (let attempt = 0; attempt < 600; attempt += 1) {
    const reply = await py("progress", jobId);
    if (reply.ok) {
      following.set(jobId, { connection: connectionId, done: reply.done, label: label(reply.steps) });
      await refreshList();
      if (reply.done) {
        if (reply.failed) notice("The bank connected, but retrieving its data failed. Try again later.", "error");
        return;
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

// basiq:// mode: Python catches the navigations and hands us what it made of them

window.desktop = {
  onSchemeOutcome(outcome) {
    handle({ ok: true, ...outcome });
  },
};

async function start() {
  const reply = await py("bootstrap");
  if (!reply.ok) {
    notice(reply.error, "error");
    return;
  }
  boot = reply;
  document.body.dataset.mode = boot.mode;
  $("mode-badge").hidden = boot.mode !== "emulator";
  renderList(boot.connections);
  if (boot.identifier) $("connect").disabled = false;
  else askWho();
}

start();

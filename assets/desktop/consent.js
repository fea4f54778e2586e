// Basiq 3.0's Consent UI (BLINK_DESKTOP_FLOW=consent). It refuses iframes, so the window goes
// to it top level; the app catches the way back to its redirect URL before it loads, checks it,
// and shows this page again. Here the page learns the flow and what the visit brought (bridge
// consent_return): jobs to follow with live progress, a cancellation, the end of "manage", or a
// refusal; and starts visits: "Connect a bank", "Manage consent", and a connection's Fix.

const $ = (id) => document.getElementById(id);

let app = null; // {py, notice, follow, refreshList, setMode, announce, reopen}: app.js's, from setup
let flow = null; // "blink" or "consent", once the app behind the window says
let learnt = null;
const SHOWN = "blink-desktop.consent-return"; // the id of the last way back this tab showed

/** Wire the page's consent parts; `bootFlow` is bootstrap()'s flow (null while starting). */
export function setup(hooks, bootFlow) {
  app = hooks;
  if (bootFlow) show(bootFlow);
  learnt = learn();
  $("manage-consent").addEventListener("click", () => manage());
}

/** Whether "Connect a bank" goes to the Consent UI; waits for the app to say, if need be. */
export async function on() {
  if (flow === null && learnt) await learnt;
  return flow === "consent";
}

/**
 * A visit to the Consent UI (the bridge's answer, `url` to go to): `action` is Basiq's (null:
 * consent, then connect; "manage"; "connect" with `connectionId` to log in to that bank again,
 * for Fix). The caller says what went wrong when it is not `ok`, or goes there with `go`.
 */
export function start(action = null, connectionId = null) {
  return app.py("start_consent", action, connectionId);
}

/** Go to the visit's Consent UI, top level: the window comes back here through the app. */
export function go(visit) {
  window.location.assign(visit.url);
}

async function manage() {
  $("manage-consent").disabled = true;
  const visit = await start("manage");
  $("manage-consent").disabled = false;
  if (visit.ok) go(visit);
  else app.notice(visit.error, "error");
}

function show(name) {
  flow = name === "consent" ? "consent" : "blink";
  document.body.dataset.flow = flow;
  $("manage-consent").hidden = flow !== "consent";
}

async function learn() {
  const reply = await app.py("consent_return");
  if (!reply.ok) {
    if (flow === null) show("blink"); // an older bridge, or no app: Blink, as always
    return;
  }
  app.setMode(reply.mode);
  show(reply.flow);
  // The app keeps the last way back; this tab says it once, whatever loads the page again.
  const back = reply.returned;
  if (!back || sessionStorage.getItem(SHOWN) === back.id) return;
  sessionStorage.setItem(SHOWN, back.id);
  returned(back);
}

// What the way back brought. The app has recorded it, and stored what the jobs made so far.
function returned(back) {
  if (back.kind === "refused") {
    app.notice(`The way back from Basiq's consent page was refused (${back.reason}). Nothing was stored.`, "error");
  } else if (back.kind === "cancelled") {
    if (back.connection_id) app.reopen(back.connection_id, false); // a Fix, left unfinished
    else app.notice("You left Basiq's consent page: no bank was connected.");
  } else if (back.kind === "managed") {
    app.notice("Back from managing your consent: the list shows what Basiq still holds.");
    app.refreshList(); // what the app found gone (backend mode); reconcile does it otherwise
  } else if (back.kind === "jobs") {
    const jobs = Array.isArray(back.job_ids) ? back.job_ids : [];
    const fixed = back.connection_id || null; // a Fix: that connection's page, not a new one
    // Announced in the list's own words once active, whether stored before this page loaded
    // (a job that had finished) or found by listing at Basiq (jobs that could not be read).
    app.announce([...(back.connections || []), ...(back.found || [])].filter((id) => id !== fixed));
    if (fixed) app.reopen(fixed, true);
    else if (jobs.length) app.notice("Back from Basiq: retrieving your accounts…", "success");
    jobs.forEach((jobId) => app.follow(jobId));
    app.refreshList();
  }
}

// One connection's page: its facts, accounts, two charts and transactions, and what can be done
// to it (refresh with the job's steps live, fix, export, delete; Simulate on the emulator).
// app.js opens it from a row of the list and hands over what it shares (setup()); everything
// else is here. The data is what this computer stored: shown at once, even offline, then brought
// up to date in the background.
//
// Transactions are held in memory and filtered here; only the rows in view are in the page
// (virtual scrolling), so 10,000 scroll and filter as smoothly as 100.
import { drawBalances, drawSpending, loadChart, monthsOf } from "./charts.js";
import { STATUS, logoOf, when } from "./format.js";

const $ = (id) => document.getElementById(id);

const ROW_HEIGHT = 44; // px; the same in connection.css (.tx-row)
const OVERSCAN = 10; // rows drawn beyond each edge of the view
const PROGRESS_INTERVAL_MS = 400;
const FIRST_ROWS = 100; // shown while the rest of a long list is on its way

// The bridge call, the main notice and the list, from app.js.
let hooks = { py: null, notice: () => {}, refreshList: () => {}, fix: () => {} };
let page = null; // {id, connection, accounts, simulate}
let rows = []; // the connection's transactions, newest first
let shown = []; // rows passing the filters
let partial = null; // while only the newest rows are here: how many there are in all
let charts = { balance: null, spending: null };
let loads = 0; // which open() a reply belongs to
let refreshing = null; // the refresh task under way, followed by its steps
let fixing = null; // the connection being fixed, until it is active again

const METHOD = { web: "Web login", openbanking: "Open banking" };
const STEP = {
  "verify-credentials": "Checking the login with the bank",
  "retrieve-accounts": "Retrieving accounts",
  "retrieve-transactions": "Retrieving transactions",
};
const STEP_STATE = { pending: "waiting", "in-progress": "under way", success: "done", failed: "failed", skipped: "skipped" };

// Formatting, cached: Intl formatters are slow to make and fast to use.
const formats = new Map();
function money(value, currency = page && page.currency) {
  if (value === null || value === undefined || value === "" || !Number.isFinite(Number(value))) return "—";
  const code = currency || "AUD";
  if (!formats.has(code)) {
    try {
      formats.set(code, new Intl.NumberFormat(undefined, { style: "currency", currency: code }));
    } catch (error) {
      formats.set(code, new Intl.NumberFormat(undefined, { minimumFractionDigits: 2, maximumFractionDigits: 2 }));
    }
  }
  return formats.get(code).format(Number(value));
}
const dayFormat = new Intl.DateTimeFormat(undefined, { day: "numeric", month: "short", year: "numeric" });

function say(text, kind = "info") {
  const box = $("conn-notice");
  box.textContent = text || "";
  box.dataset.kind = kind;
  box.hidden = !text;
}

export function setup(given) {
  hooks = { ...hooks, ...given };
}

export function isOpen() {
  return !$("connection-page").hidden;
}

// Opening and closing

export async function open(connectionId) {
  const load = ++loads;
  page = null;
  rows = [];
  shown = [];
  say("");
  $("conn-progress").hidden = refreshing === null || refreshing.connection !== connectionId;
  $("list-section").hidden = true;
  $("who").hidden = true;
  $("connection-page").hidden = false;
  $("conn-title").textContent = "Loading…";
  $("connection-page").dataset.updated = "false"; // "true" once Basiq was asked what changed
  $("conn-title").focus();
  const reply = await hooks.py("connection_page", connectionId);
  if (load !== loads) return;
  if (!reply.ok) {
    $("conn-title").textContent = "This connection";
    say(reply.error, "error");
    return;
  }
  showPage(reply);
  await loadTransactions(load, true);
  if (load === loads) await update(load, connectionId);
  if (load === loads) $("connection-page").dataset.updated = "true";
}

export function close() {
  if (!isOpen()) return false;
  const id = page && page.id;
  loads += 1;
  page = null;
  rows = [];
  shown = [];
  $("tx-rows").replaceChildren();
  $("connection-page").hidden = true;
  $("list-section").hidden = false;
  // Back to the row it came from, also once the list is drawn anew (unless focus moved on).
  const focusRow = () => {
    const row = id && document.querySelector(`#connections .item[data-id="${CSS.escape(id)}"] .item-open`);
    if (row && (document.activeElement === document.body || document.activeElement === null)) row.focus();
  };
  document.activeElement.blur();
  focusRow();
  Promise.resolve(hooks.refreshList({ quiet: true })).then(focusRow);
  return true;
}

/** Escape (the window catches it first, on Qt): the dialog, a menu or the search, then the page. */
export function escape() {
  if (!isOpen()) return false;
  if ($("delete-dialog").open) {
    $("delete-dialog").close("cancel");
    return true;
  }
  if (document.activeElement === $("tx-search") && $("tx-search").value) {
    $("tx-search").value = "";
    queueFilter();
    return true;
  }
  for (const menu of document.querySelectorAll("#connection-page details[open]")) {
    menu.open = false;
    menu.querySelector("summary").focus();
    return true;
  }
  return close();
}

function showPage(reply) {
  const { connection, accounts } = reply;
  page = { id: connection.id, connection, accounts, simulate: reply.simulate === true };
  page.currency = (accounts.find((account) => account.currency) || {}).currency || "AUD";
  page.accountNames = new Map(accounts.map((account) => [account.id, account.name]));
  $("conn-title").textContent = connection.institution || "Bank connection";
  const logo = logoOf(connection);
  logo.id = "conn-logo";
  logo.setAttribute("aria-hidden", "true");
  $("conn-logo").replaceWith(logo);
  showStatus(connection.status);
  if (fixing === page.id && connection.status === "active") fixed(); // active before it opened
  $("conn-method").textContent = METHOD[connection.method] || connection.method || "Web login";
  $("conn-created").textContent = when(connection.created);
  $("conn-refreshed").textContent = when(connection.refreshed);
  showFetched(connection.fetched, false);
  $("conn-simulate").hidden = !page.simulate;
  renderAccounts(accounts);
  const select = $("tx-account");
  const chosen = select.value;
  select.replaceChildren(new Option("All accounts", ""), ...accounts.map((a) => new Option(a.name, a.id)));
  select.value = accounts.some((account) => account.id === chosen) ? chosen : "";
}

function showStatus(status) {
  const badge = $("conn-status");
  badge.className = `status status-${status}`;
  badge.textContent = STATUS[status] || status;
  $("connection-page").dataset.status = status;
  $("conn-fix").hidden = status !== "invalid";
}

function showFetched(fetched, offline) {
  const text = fetched ? `as of ${when(fetched)}` : "not fetched yet";
  $("conn-fetched").textContent = offline ? `Offline: ${text}` : text;
  $("connection-page").dataset.offline = String(Boolean(offline));
}

function kind(type) {
  if (!type) return "—";
  const words = String(type).replace(/-/g, " ");
  return words.charAt(0).toUpperCase() + words.slice(1);
}

function renderAccounts(accounts) {
  const body = $("accounts").tBodies[0];
  body.replaceChildren(
    ...accounts.map((account) => {
      const tr = document.createElement("tr");
      tr.dataset.id = account.id;
      const cells = [
        account.name,
        account.number || "—",
        kind(account.type),
        money(account.balance, account.currency),
        money(account.available, account.currency),
        account.currency || "—",
      ];
      cells.forEach((text, index) => {
        const cell = document.createElement(index === 0 ? "th" : "td");
        if (index === 0) cell.scope = "row";
        if (index === 3 || index === 4) cell.className = "num";
        cell.textContent = text;
        tr.append(cell);
      });
      return tr;
    }),
  );
  $("accounts").hidden = accounts.length === 0;
  $("accounts-empty").hidden = accounts.length > 0;
}

// Transactions

// The bridge sends rows as arrays, in this order (a third of the size of objects); `date` is
// the day, YYYY-MM-DD.
function toRow([id, date, description, amount, direction, account, category, status]) {
  const value = Number(amount);
  const credit = direction ? direction === "credit" : value > 0;
  // The bank's day, as Basiq dates it: never moved by this computer's time zone.
  const day = String(date || "").slice(0, 10);
  const time = Date.parse(`${day}T12:00:00`);
  const accountName = page.accountNames.get(account) || "";
  return {
    id, day, description: description || "", amount: value, credit, account, accountName,
    category: category || "", pending: status === "pending", time,
    text: `${description || ""}\u0000${category || ""}\u0000${accountName}`.toLowerCase(),
  };
}

// `quick`: the newest rows first, at once, then all of them (10,000 take a moment to arrive).
async function loadTransactions(load, quick = false) {
  if (quick) {
    const first = await hooks.py("connection_transactions", page.id, FIRST_ROWS);
    if (load !== loads) return;
    if (first.ok && !first.complete) {
      rows = first.rows.map(toRow);
      partial = first.total;
      applyFilters();
    }
  }
  const reply = await hooks.py("connection_transactions", page.id);
  if (load !== loads) return;
  partial = null;
  if (!reply.ok) {
    say(reply.error, "error");
    return;
  }
  rows = reply.rows.map(toRow);
  applyFilters(quick);
  drawCharts(load);
}

let filterQueued = false;
function queueFilter() {
  if (filterQueued) return;
  filterQueued = true;
  requestAnimationFrame(() => {
    filterQueued = false;
    applyFilters();
  });
}

function applyFilters(keepScroll = false) {
  const terms = $("tx-search").value.toLowerCase().split(/\s+/).filter(Boolean);
  const account = $("tx-account").value;
  const from = $("tx-from").value;
  const to = $("tx-to").value;
  shown = rows.filter(
    (row) =>
      (!account || row.account === account) &&
      (!from || row.day >= from) &&
      (!to || row.day <= to) &&
      terms.every((term) => row.text.includes(term)),
  );
  const total = rows.length.toLocaleString();
  if (partial !== null) {
    $("tx-count").textContent = `The newest of ${partial.toLocaleString()} transactions; the rest are on their way…`;
  } else {
    $("tx-count").textContent =
      shown.length === rows.length ? `${total} transactions, newest first` : `${shown.length.toLocaleString()} of ${total} transactions`;
  }
  $("tx-table").setAttribute("aria-rowcount", String(shown.length + 1));
  $("tx-spacer").style.height = `${shown.length * ROW_HEIGHT}px`;
  if (!keepScroll) $("tx-viewport").scrollTop = 0;
  renderRows();
}

function renderRows() {
  const viewport = $("tx-viewport");
  const height = viewport.clientHeight || 600;
  const first = Math.max(0, Math.floor(viewport.scrollTop / ROW_HEIGHT) - OVERSCAN);
  const last = Math.min(shown.length, Math.ceil((viewport.scrollTop + height) / ROW_HEIGHT) + OVERSCAN);
  const items = [];
  for (let index = first; index < last; index += 1) items.push(rowElement(shown[index], index));
  $("tx-rows").style.transform = `translateY(${first * ROW_HEIGHT}px)`;
  $("tx-rows").replaceChildren(...items);
}

function cell(text, className) {
  const span = document.createElement("span");
  span.setAttribute("role", "cell");
  if (className) span.className = className;
  span.textContent = text;
  return span;
}

function rowElement(row, index) {
  const div = document.createElement("div");
  div.className = `tx-row ${row.credit ? "credit" : "debit"}`;
  div.setAttribute("role", "row");
  div.setAttribute("aria-rowindex", String(index + 2));
  div.dataset.id = row.id;
  const date = cell(Number.isNaN(row.time) ? row.day : dayFormat.format(row.time), "tx-date");
  const what = cell("", "tx-what");
  const description = document.createElement("span");
  description.className = "tx-desc";
  description.textContent = row.description;
  what.append(description);
  if (row.category || row.pending) {
    const sub = document.createElement("span");
    sub.className = "tx-cat";
    sub.textContent = [row.category, row.pending ? "Pending" : ""].filter(Boolean).join(" · ");
    what.append(sub);
  }
  // In or out, told apart by sign, arrow and word, not by colour alone.
  const amount = cell("", "tx-amount num");
  const sign = document.createElement("span");
  sign.className = "tx-dir";
  sign.textContent = row.credit ? "↓ In" : "↑ Out";
  const value = document.createElement("span");
  value.className = "tx-value";
  value.textContent = `${row.credit ? "+" : "−"}${money(Math.abs(row.amount))}`;
  amount.append(sign, value);
  div.append(date, what, cell(row.accountName, "tx-account"), amount);
  return div;
}

// Charts

async function drawCharts(load) {
  let Chart;
  try {
    Chart = await loadChart();
  } catch (error) {
    chartsFailed(error);
    return;
  }
  if (load !== loads || !page) return;
  charts.balance = drawBalances(Chart, $("chart-balance"), charts.balance, page.accounts, rows, money);
  const months = monthsOf(rows);
  const select = $("chart-month");
  const chosen = months.includes(select.value) ? select.value : months[0] || "";
  const label = (month) => new Date(`${month}-01T12:00:00`).toLocaleDateString(undefined, { month: "long", year: "numeric" });
  select.replaceChildren(...months.map((month) => new Option(label(month), month)));
  select.value = chosen;
  drawMonth(Chart);
}

function chartsFailed(error) {
  say(`The charts could not be drawn: ${error.message}.`, "error");
}

function drawMonth(Chart) {
  const drawn = drawSpending(Chart, $("chart-spending"), charts.spending, rows, $("chart-month").value, money);
  charts.spending = drawn.chart;
  $("chart-spending-empty").hidden = !drawn.empty;
}

// Bringing the data up to date

// After opening: ask Basiq for what changed since the last fetch, and show it in place.
async function update(load, connectionId) {
  const reply = await hooks.py("fetch_connection", connectionId);
  if (load !== loads || !page) return;
  if (!reply.ok) {
    if (reply.retry) showFetched(page.connection.fetched, true);
    else say(reply.error, "error");
    return;
  }
  if (reply.changed) await reload(load);
  else showFetched(reply.fetched || page.connection.fetched, false);
}

async function reload(load = loads) {
  if (!page) return;
  const reply = await hooks.py("connection_page", page.id);
  if (load !== loads || !reply.ok) return;
  showPage(reply);
  await loadTransactions(load);
}

async function refresh(connectionId) {
  if (refreshing) return;
  const all = connectionId === null;
  const reply = await hooks.py("refresh_connections", connectionId);
  if (!reply.ok) {
    (all ? hooks.notice : say)(reply.error, "error");
    return;
  }
  const task = { id: reply.task, connection: connectionId };
  refreshing = task;
  setRefreshing(true, all);
  try {
    for (;;) {
      const state = await hooks.py("refresh_progress", task.id);
      if (!state.ok) throw new Error(state.error);
      showSteps(state, all);
      if (state.done) {
        finishRefresh(state, all);
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, PROGRESS_INTERVAL_MS));
    }
  } catch (error) {
    (all ? hooks.notice : say)(`Refreshing stopped: ${error.message}`, "error");
  } finally {
    refreshing = null;
    setRefreshing(false, all);
  }
}

function setRefreshing(on, all) {
  $("conn-refresh").disabled = on;
  $("refresh-all").disabled = on;
  $("conn-refresh").textContent = on && !all ? "Refreshing…" : "Refresh";
  $("refresh-all").textContent = on && all ? "Refreshing…" : "Refresh all";
}

function showSteps(state, all) {
  const mine = all || (page && refreshing && page.id === refreshing.connection);
  if (all) {
    const running = state.steps.filter((step) => step.status === "in-progress").map((step) => STEP[step.title] || step.title);
    if (running.length) hooks.notice(`Refreshing your connections: ${[...new Set(running)].join(", ").toLowerCase()}…`);
  }
  if (!mine || !isOpen()) return;
  const steps = state.steps.filter((step) => all === false || step.connection === page.id);
  $("conn-progress").hidden = false;
  $("conn-progress-title").textContent = state.done ? "Refreshed" : "Refreshing";
  $("conn-steps").replaceChildren(
    ...steps.map((step) => {
      const li = document.createElement("li");
      li.dataset.title = step.title;
      li.dataset.status = step.status;
      li.textContent = `${STEP[step.title] || step.title}: ${STEP_STATE[step.status] || step.status}`;
      return li;
    }),
  );
}

async function finishRefresh(state, all) {
  const failures = state.failures || [];
  if (all) {
    hooks.notice(failures.length ? failures.map((item) => item.error).join(" ") : "Every connection is up to date.", failures.length ? "error" : "success");
    hooks.refreshList({ quiet: true });
  }
  if (!page || !isOpen()) return;
  const mine = failures.find((item) => item.connection === page.id);
  if (mine) say(mine.error, "error");
  else if (!all) say("Up to date.", "success");
  await reload();
  if (!mine) $("conn-progress").hidden = true;
}

// Fix, delete, export, simulate

function fix() {
  if (!page) return;
  fixing = page.id;
  hooks.fix(page.id);
}

/** app.js tells us of every new list: a fixed connection that is active again gets its data. */
export function listChanged(items) {
  $("list-actions").hidden = items.length === 0;
  if (!page || !isOpen()) return;
  const item = items.find((entry) => entry.id === page.id);
  if (!item) {
    close(); // gone (deleted elsewhere, a revoked consent), or another person's now (Switch)
    return;
  }
  if (item.status === page.connection.status) return;
  page.connection.status = item.status;
  showStatus(item.status);
  if (fixing === page.id && item.status === "active") fixed();
}

/**
 * Back from a Fix in Basiq's Consent UI, for which the window left this page: the connection's
 * page again. `loggedIn`: the bank took the new login, so once the connection is active its
 * data is refreshed, as after Blink's update mode; otherwise the person left without fixing it.
 */
export function resume(connectionId, loggedIn) {
  fixing = loggedIn ? connectionId : null;
  open(connectionId); // its first step clears the page's line; ours comes after
  if (loggedIn) say("Back from Basiq: checking the new login with the bank…");
  else say("You left Basiq's page: this connection still needs fixing.", "error");
}

function fixed() {
  fixing = null;
  say("Fixed: the bank accepted the login again. Fetching the latest data…", "success");
  refresh(page.id);
}

function askDelete() {
  if (!page) return;
  const bank = page.connection.institution || "this bank";
  $("delete-title").textContent = `Delete ${bank}?`;
  $("delete-text").textContent =
    `${bank} will be disconnected at Basiq, and its accounts and transactions removed from this computer. ` +
    "The event log keeps a record. To see them again you will have to connect the bank again.";
  $("delete-dialog").returnValue = "";
  $("delete-dialog").showModal();
}

async function deleteConfirmed() {
  if (!page) return;
  const { id } = page;
  const bank = page.connection.institution || "The bank";
  $("conn-delete").disabled = true;
  const reply = await hooks.py("delete_connection", id);
  $("conn-delete").disabled = false;
  if (!reply.ok) {
    say(reply.error, "error");
    return;
  }
  close();
  hooks.notice(`${bank} was deleted, with its accounts and transactions.`, "success");
}

async function exportTransactions(event) {
  event.preventDefault();
  const form = $("conn-export-form");
  const scope = form.elements.scope.value;
  const format = form.elements.format.value;
  $("conn-export").open = false;
  if (!page && scope !== "all") return; // still loading: no bank to export yet
  const reply = await hooks.py("export_transactions", scope === "all" ? null : page.id, format);
  if (!reply.ok) say(reply.error, "error");
  else if (reply.cancelled) say("");
  else say(`Saved ${reply.count.toLocaleString()} transactions to ${reply.path}.`, "success");
}

async function simulate(action, days) {
  if (!page) return;
  $("conn-simulate").open = false;
  const reply = await hooks.py("simulate", action, page.id, days);
  say(reply.ok ? reply.message : reply.error, reply.ok ? "info" : "error");
}

// Wiring

$("conn-back").addEventListener("click", () => close());
$("conn-refresh").addEventListener("click", () => page && refresh(page.id));
$("refresh-all").addEventListener("click", () => refresh(null));
$("conn-fix").addEventListener("click", () => fix());
$("conn-delete").addEventListener("click", () => askDelete());
$("delete-dialog").addEventListener("close", () => {
  if ($("delete-dialog").returnValue === "delete") deleteConfirmed();
  else $("conn-delete").focus();
});
$("conn-export-form").addEventListener("submit", exportTransactions);
$("sim-break").addEventListener("click", () => simulate("break"));
$("sim-expire").addEventListener("click", () => simulate("expire-tokens"));
$("sim-time").addEventListener("submit", (event) => {
  event.preventDefault();
  simulate("pass-time", Number($("sim-days").value));
});
$("tx-filters").addEventListener("submit", (event) => event.preventDefault());
$("tx-search").addEventListener("input", () => queueFilter());
for (const id of ["tx-account", "tx-from", "tx-to"]) $(id).addEventListener("change", queueFilter);
$("tx-viewport").addEventListener("scroll", () => requestAnimationFrame(renderRows), { passive: true });
window.addEventListener("resize", () => isOpen() && renderRows());
$("chart-month").addEventListener("change", () => loadChart().then(drawMonth, chartsFailed));

// A row of the list opens its page: its bank's name is the button; a click anywhere on the row
// does the same, except on the id (which a person may be selecting to copy).
$("connections").addEventListener("click", (event) => {
  const item = event.target.closest(".item");
  if (!item || event.target.closest(".item-id")) return;
  open(item.dataset.id);
});

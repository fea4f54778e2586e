// The connection page's two pictures, drawn with Chart.js (assets/vendor/chart.js, loaded from
// this app's own files when first needed, never from the network):
// - each account's balance over the last 90 days, worked out backwards from its balance today
//   and its transactions (Basiq gives balances for today only);
// - spending by category for a chosen month: money out, by Basiq's category, largest first.

const CHART_SRC = "vendor/chart.js/chart.umd.min.js";
export const HISTORY_DAYS = 90;
const TOP_CATEGORIES = 8;
// Shown only when the person asks (the legend): a loan's hundreds of thousands would flatten
// every other line.
const HIDDEN_AT_FIRST = new Set(["mortgage", "loan"]);
const PALETTE = ["#3b4cf3", "#0f7b4f", "#b45309", "#9333ea", "#0e7490", "#be123c", "#4d7c0f", "#64748b"];

let library = null;

/** window.Chart, loaded once from the bundled file. */
export function loadChart() {
  if (!library) {
    library = new Promise((resolve, reject) => {
      if (window.Chart) return resolve(window.Chart);
      const script = document.createElement("script");
      script.src = CHART_SRC;
      script.onload = () => resolve(window.Chart);
      script.onerror = () => {
        library = null;
        reject(new Error("the charting library could not be loaded"));
      };
      document.head.append(script);
    });
  }
  return library;
}

const DAY_MS = 86400000;

/** "YYYY-MM-DD" of a moment, in local time: the day a person would say it happened. */
export function dayOf(ms) {
  const date = new Date(ms);
  const pad = (n) => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`;
}

/** The last HISTORY_DAYS days, oldest first, ending today or on the newest transaction's day. */
export function historyDays(rows) {
  const newest = rows.reduce((most, row) => (row.day > most ? row.day : most), dayOf(Date.now()));
  const end = new Date(`${newest}T12:00:00`).getTime();
  const days = [];
  for (let back = HISTORY_DAYS - 1; back >= 0; back -= 1) days.push(dayOf(end - back * DAY_MS));
  return days;
}

/**
 * An account's balance at the end of each day: today's balance, less every transaction made
 * after that day. `rows` are all the connection's transactions, newest first.
 */
export function balanceHistory(account, rows, days) {
  const mine = rows.filter((row) => row.account === account.id);
  let balance = Number(account.balance);
  if (!Number.isFinite(balance)) return days.map(() => null);
  const out = new Array(days.length);
  let next = 0;
  for (let index = days.length - 1; index >= 0; index -= 1) {
    while (next < mine.length && mine[next].day > days[index]) {
      balance -= mine[next].amount;
      next += 1;
    }
    out[index] = Math.round(balance * 100) / 100;
  }
  return out;
}

/** Months that have transactions, newest first, as "YYYY-MM". */
export function monthsOf(rows) {
  return [...new Set(rows.map((row) => row.day.slice(0, 7)))].sort().reverse();
}

/** Money out in `month` by category, largest first; the smallest folded into "Other". */
export function spendingByCategory(rows, month) {
  const totals = new Map();
  for (const row of rows) {
    if (row.credit || !row.day.startsWith(month)) continue;
    const name = row.category || "Uncategorised";
    totals.set(name, (totals.get(name) || 0) + Math.abs(row.amount));
  }
  const sorted = [...totals.entries()].sort((a, b) => b[1] - a[1]);
  if (sorted.length > TOP_CATEGORIES) {
    const rest = sorted.splice(TOP_CATEGORIES - 1);
    sorted.push(["Other", rest.reduce((sum, [, value]) => sum + value, 0)]);
  }
  return sorted.map(([name, value]) => [name, Math.round(value * 100) / 100]);
}

// A long category name, cut for the axis (the tooltip and the canvas's label have it whole).
function short(name) {
  return name.length > 22 ? `${name.slice(0, 21)}…` : name;
}

function shortDay(day) {
  return new Date(`${day}T12:00:00`).toLocaleDateString(undefined, { day: "numeric", month: "short" });
}

/** Draw (or redraw) the balance chart on `canvas`; returns the chart. */
export function drawBalances(Chart, canvas, previous, accounts, rows, money) {
  if (previous) previous.destroy();
  const days = historyDays(rows);
  const datasets = accounts.map((account, index) => ({
    label: account.name,
    data: balanceHistory(account, rows, days),
    borderColor: PALETTE[index % PALETTE.length],
    backgroundColor: PALETTE[index % PALETTE.length],
    borderWidth: 2,
    pointRadius: 0,
    tension: 0.15,
    hidden: HIDDEN_AT_FIRST.has(account.type) && accounts.some((other) => !HIDDEN_AT_FIRST.has(other.type)),
  }));
  const reduced = window.matchMedia("(prefers-reduced-motion: reduce)").matches;
  const chart = new Chart(canvas, {
    type: "line",
    data: { labels: days.map(shortDay), datasets },
    options: {
      animation: reduced ? false : { duration: 300 },
      maintainAspectRatio: false,
      interaction: { mode: "index", intersect: false },
      scales: { x: { ticks: { maxTicksLimit: 6 } }, y: { ticks: { callback: (value) => money(value) } } },
      plugins: {
        legend: { position: "bottom" },
        tooltip: { callbacks: { label: (item) => `${item.dataset.label}: ${money(item.parsed.y)}` } },
      },
    },
  });
  const last = datasets.map((set) => `${set.label} ${money(set.data[set.data.length - 1])}`);
  canvas.setAttribute("aria-label", `Balance of each account over the last ${HISTORY_DAYS} days; today: ${last.join(", ")}`);
  return chart;
}

/** Draw (or redraw) the spending chart for `month`; returns the chart and whether it is empty. */
export function drawSpending(Chart, canvas, previous, rows, month, money) {
  if (previous) previous.destroy();
  const totals = spendingByCategory(rows, month);
  const chart = new Chart(canvas, {
    type: "bar",
    data: {
      labels: totals.map(([name]) => name),
      datasets: [{ label: "Spent", data: totals.map(([, value]) => value), backgroundColor: PALETTE[0] }],
    },
    options: {
      indexAxis: "y",
      animation: false,
      maintainAspectRatio: false,
      scales: {
        x: { ticks: { callback: (value) => money(value) } },
        y: { ticks: { callback: (value) => short(totals[value] ? totals[value][0] : "") } },
      },
      plugins: { legend: { display: false }, tooltip: { callbacks: { label: (item) => money(item.parsed.x) } } },
    },
  });
  const words = totals.map(([name, value]) => `${name} ${money(value)}`).join(", ");
  canvas.setAttribute("aria-label", totals.length ? `Spending by category: ${words}` : "No spending that month");
  return { chart, empty: totals.length === 0 };
}

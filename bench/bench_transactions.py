"""A connection with 10,000 transactions in the window, timed from outside as a person feels it.

    python bench/bench_transactions.py [--runs 7] [--rows 10000]

Two figures, each beside a baseline timed in the same runs (interleaved), medians:

1. click on the connection in the list -> its first transaction rows on screen (and, beside
   it, -> every row in the list: the app shows the newest 100 first, the bare page all at once);
2. a search typed into the filter box -> the rows filtered (the count says "N of 10,000").

The app runs on its embedded emulator, on a data folder made beforehand: Hooli connected and
fetched, then topped up to `--rows` transactions in the app's own ledger (made-up ones, dated
before the fetch's overlap, so the background fetch the page makes on opening leaves them).
The baseline is a bare pywebview window (this file, run with --bare) whose page gets the same
rows over one bridge call, as the app's page does, and renders them all into a plain table,
then filters that table the plain way (hiding rows) as the search is typed.

Both are polled over DevTools every POLL_S seconds, from just before the click or the typing.
The click comes SETTLE_S seconds after each window is ready (the app: Connect enabled and the
next connect's Blink loaded ahead), so the page is timed, not the start-up.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from startup import PERSON, TIMEOUT_S, _page, _stop, clean_env  # noqa: E402

from harness.cdp import CDP  # noqa: E402
from harness.ports import free_port  # noqa: E402

POLL_S = 0.005
SETTLE_S = 1.0
PRELOADED = "document.querySelector('#blink-host iframe') !== null"
WIDTH, HEIGHT = 1040, 760  # the app's window
ROWS_SHOWN = "document.querySelector('#tx-rows .tx-row') !== null"
MERCHANTS = [
    ("Woolworths Metro", "Supermarkets and grocery stores"),
    ("Coles Express", "Fuel retailing"),
    ("Netflix", "Digital media"),
    ("Uber Trip", "Taxi and ride share"),
    ("Bunnings Warehouse", "Hardware"),
    ("Salary ACME Pty Ltd", None),
    ("Transfer to savings", None),
    ("Cafe Sydney", "Cafes and restaurants"),
    ("Telstra", "Telecommunications"),
    ("Chemist Warehouse", "Pharmacies"),
]
SEARCH = "netflix"


# -------------------------------------------------------------------------------------------------
# The data folder: Hooli connected and fetched, then topped up to N transactions


def prepare(folder: Path, rows: int) -> tuple[Path, str, list[list[Any]]]:
    """The app's data folder, the connection's id, and the rows its page gets."""
    folder.mkdir(parents=True, exist_ok=True)
    env = clean_env(folder, free_port())
    script = f"""
import json, sys
sys.path[:0] = [{str(ROOT)!r}, {str(ROOT / "bench")!r}]
from bench_transactions import fill
print(json.dumps(fill({rows})))
"""
    done = subprocess.run(
        [sys.executable, "-c", script],
        env=env,
        check=True,
        timeout=300,
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    answer = json.loads(done.stdout.strip().splitlines()[-1])
    return folder / "data", answer["connection"], answer["rows"]


def fill(total: int) -> dict[str, Any]:
    """In the app's environment: connect Hooli, fetch it, top it up to `total` rows."""
    from decimal import Decimal

    import requests

    from blink_desktop.app.connection_page import ConnectionPages
    from blink_desktop.app.starting import Pending
    from blink_desktop.app.wiring import build
    from blink_desktop.basiq.client import BasiqClient
    from blink_desktop.basiq.models import Transaction
    from blink_desktop.settings import load_settings

    app = build(load_settings())
    try:
        assert app.upstream is not None and app.manager is not None
        app.service.set_identifier(PERSON)
        user = app.service.basiq_user_id()
        assert user is not None
        client = BasiqClient(app.upstream.api_url)
        client_token = client.token(app.upstream.api_key, "CLIENT_ACCESS", user).access_token
        response = requests.post(
            f"{client.base_url}/users/{user}/connections",
            headers={"Authorization": f"Bearer {client_token}"},
            json={
                "loginId": "gavinBelson",
                "password": "hooli2016",
                "institution": {"id": "AU00000"},
            },
            timeout=10,
        )
        job_id = response.json()["id"]
        server = client.token(app.upstream.api_key, "SERVER_ACCESS").access_token
        deadline = time.monotonic() + 60
        while not (job := client.job(server, job_id)).done:
            if time.monotonic() > deadline:
                raise SystemExit("the emulator's job did not finish")
            time.sleep(0.2)
        connection = job.connection_id
        assert connection is not None and not job.failed
        with app.store.writing("the connection") as tx:
            tx.upsert_connection(connection, user, job_id)
            tx.describe(connection, institution_id="AU00000", institution="Hooli", detail=None)
            tx.set_status(connection, "active", "job")
        app.manager.fetch(connection)
        accounts = [account.id for account in app.manager.accounts(connection)]
        have = len(app.manager.transactions(connection))
        oldest = datetime.now(UTC) - timedelta(days=10)  # before the background fetch's overlap
        made = []
        chance = random.Random(13)
        for index in range(max(total - have, 0)):
            name, category = MERCHANTS[index % len(MERCHANTS)]
            credit = category is None and name.startswith("Salary")
            cents = chance.randint(300, 300000) if credit else -chance.randint(300, 25000)
            when = oldest - timedelta(minutes=index * 45)
            made.append(
                Transaction.model_validate(
                    {
                        "id": f"bench-{index:06d}",
                        "status": "posted",
                        "description": f"{name} {chance.randint(1000, 9999)}",
                        "amount": str(Decimal(cents) / 100),
                        "direction": "credit" if credit else "debit",
                        "account": accounts[index % len(accounts)],
                        "postDate": when.isoformat(),
                        "transactionDate": when.isoformat(),
                        "subClass": {"title": category} if category else None,
                    }
                )
            )
        with app.manager.ledger.writing("the bench's transactions") as tx:
            tx.upsert_transactions(connection, made)
        shown = ConnectionPages(Pending.of(app)).transactions(connection)["rows"]
        return {"connection": connection, "rows": shown}
    finally:
        app.close()


# -------------------------------------------------------------------------------------------------
# The baseline: a bare window whose page renders every row into a table


BARE_PAGE = """<!doctype html><meta charset=utf-8><title>bare rows</title>
<style>body{font:14px sans-serif;margin:16px}
td{padding:4px 8px;border-bottom:1px solid #ddd}</style>
<button id="go" type="button">Hooli</button>
<input id="search" type="search" placeholder="Search">
<p id="count"></p>
<table><tbody id="rows"></tbody></table>
<script>
window.addEventListener("pywebviewready", () => { document.documentElement.dataset.ready = "1"; });
const money = new Intl.NumberFormat(undefined, {style: "currency", currency: "AUD"});
const day = new Intl.DateTimeFormat(undefined, {day: "numeric", month: "short", year: "numeric"});
let rows = [];
document.getElementById("go").addEventListener("click", async () => {
  const reply = await window.pywebview.api.rows();
  const body = document.getElementById("rows");
  rows = reply.rows.map((r) => {
    const tr = document.createElement("tr");
    tr.dataset.id = r[0];
    for (const text of [day.format(Date.parse(r[1] + "T12:00:00")), r[2], r[6] || "",
                        money.format(Number(r[3]))]) {
      const td = document.createElement("td"); td.textContent = text; tr.append(td);
    }
    body.append(tr);
    return {tr, text: (r[2] + "\\u0000" + (r[6] || "")).toLowerCase()};
  });
  document.getElementById("count").textContent = rows.length + " transactions";
});
document.getElementById("search").addEventListener("input", (event) => {
  const term = event.target.value.toLowerCase();
  let shown = 0;
  for (const row of rows) {
    const keep = row.text.includes(term);
    row.tr.hidden = !keep;
    shown += keep;
  }
  document.getElementById("count").textContent = shown + " of " + rows.length + " transactions";
});
</script>"""


def bare_window(folder: Path) -> None:
    """Run as `--bare FOLDER`: a pywebview window on BARE_PAGE, answering `rows()`."""
    import os
    import signal
    import threading

    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    if os.geteuid() == 0:
        os.environ.setdefault("QTWEBENGINE_DISABLE_SANDBOX", "1")
    import webview

    rows = json.loads((folder / "rows.json").read_text())
    (folder / "bare.html").write_text(BARE_PAGE)

    class Api:
        def rows(self) -> dict[str, Any]:
            return {"ok": True, "rows": rows}

    window = webview.create_window(
        "bare", str(folder / "bare.html"), js_api=Api(), width=WIDTH, height=HEIGHT
    )
    assert window is not None
    signal.signal(
        signal.SIGTERM, lambda *_: threading.Thread(target=window.destroy, daemon=True).start()
    )
    webview.start(gui="qt")


# -------------------------------------------------------------------------------------------------
# Timing


def _search(cdp: CDP, selector: str, count_id: str, want: str) -> float:
    """Seconds from typing SEARCH into `selector` until `count_id` reads `want`."""
    cdp.evaluate(f"document.querySelector({json.dumps(selector)}).focus()")
    typed = time.time()
    cdp.send("Input.insertText", {"text": SEARCH})
    cdp.wait_for(
        f"document.getElementById({json.dumps(count_id)}).textContent === {json.dumps(want)}",
        TIMEOUT_S,
        interval=POLL_S,
    )
    return time.time() - typed


Times = tuple[float, float, float]  # first rows, every row in the list, search


def app_run(data: Path, connection: str, expected: int, total: int) -> Times:
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        shutil.copytree(data, folder / "data")
        port = free_port()
        env = clean_env(folder, port)
        process = subprocess.Popen(
            [sys.executable, "-m", "blink_desktop"],
            env=env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            with _page(port, process) as cdp:
                row = f'#connections .item[data-id="{connection}"] .item-open'
                cdp.wait_for(f"document.querySelector({json.dumps(row)}) !== null", TIMEOUT_S)
                # Clicked once the start-up is over (Connect enabled, the next connect's Blink
                # loaded ahead out of sight), SETTLE_S later: the page, not the start, is timed.
                cdp.wait_for(f"!document.getElementById('connect').disabled && {PRELOADED}", 60)
                time.sleep(SETTLE_S)
                clicked = time.time()
                cdp.click(row)
                cdp.wait_for(ROWS_SHOWN, TIMEOUT_S, interval=POLL_S)
                shown = time.time() - clicked
                every = json.dumps(f"{total:,} transactions, newest first")
                cdp.wait_for(
                    f"document.getElementById('tx-count').textContent === {every}",
                    TIMEOUT_S,
                    interval=POLL_S,
                )
                complete = time.time() - clicked
                # Typed once the page has settled: charts drawn, Basiq asked what changed.
                cdp.wait_for(
                    "document.getElementById('connection-page').dataset.updated === 'true'"
                    " && !!window.Chart"
                    " && !!Chart.getChart(document.getElementById('chart-spending'))",
                    TIMEOUT_S,
                )
                want = f"{expected:,} of {total:,} transactions"
                filtered = _search(cdp, "#tx-search", "tx-count", want)
        finally:
            _stop(process)
    return shown, complete, filtered


def bare_run(rows_file: Path, expected: int, total: int) -> Times:
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        shutil.copy(rows_file, folder / "rows.json")
        port = free_port()
        env = clean_env(folder, port)
        process = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "--bare", str(folder)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            with _page(port, process) as cdp:
                cdp.wait_for("document.documentElement.dataset.ready", TIMEOUT_S)
                time.sleep(SETTLE_S)
                clicked = time.time()
                cdp.click("#go")
                cdp.wait_for(
                    "document.querySelector('#rows tr') !== null", TIMEOUT_S, interval=POLL_S
                )
                shown = time.time() - clicked
                filtered = _search(cdp, "#search", "count", f"{expected} of {total} transactions")
        finally:
            _stop(process)
    return shown, shown, filtered  # every row at once


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--bare":
        bare_window(Path(sys.argv[2]))
        return
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--rows", type=int, default=10_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        print(f"preparing a connection with {args.rows:,} transactions…", flush=True)
        data, connection, rows = prepare(folder / "prepared", args.rows)
        rows_file = folder / "rows.json"
        rows_file.write_text(json.dumps(rows))
        total = len(rows)
        # The app searches the description, category and account name; the term is chosen so
        # all three agree with the baseline's description and category.
        expected = sum(SEARCH in f"{r[2]}\0{r[6] or ''}".lower() for r in rows)
        print(f"{total:,} transactions; the search {SEARCH!r} keeps {expected:,}", flush=True)
        app: list[Times] = []
        bare: list[Times] = []
        for run in range(args.runs):
            app.append(app_run(data, connection, expected, total))
            bare.append(bare_run(rows_file, expected, total))
            print(
                f"  run {run + 1}: app {' / '.join(f'{t:.3f}' for t in app[-1])} s,"
                f" bare {' / '.join(f'{t:.3f}' for t in bare[-1])} s",
                flush=True,
            )
    print(f"\nmedians of {args.runs} interleaved runs, {total:,} transactions (seconds)")
    print(f"  {'':40}{'app':>8}{'bare':>8}{'ratio':>8}")
    labels = [
        "click -> first rows shown",
        f"click -> all {total:,} in the list",
        f"search {SEARCH!r} -> rows filtered",
    ]
    for index, label in enumerate(labels):
        mine = statistics.median(run[index] for run in app)
        base = statistics.median(run[index] for run in bare)
        print(f"  {label:40}{mine:8.3f}{base:8.3f}{mine / base:7.2f}x")


if __name__ == "__main__":
    main()

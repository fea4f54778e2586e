"""A connection's page, end to end: the real app in its own window, driven like a person.

Connect Hooli, open its page, and compare what it shows with what the emulator's API holds
(read here with BasiqClient, as any Basiq client would): accounts, transactions, search and
filters, both charts drawn; then Simulate (time passing, a broken connection), refresh with the
job's steps, Fix, export, delete; and the same data after a restart with Basiq out of reach.

The app runs through LAUNCHER: the real program, with the one thing a test cannot click, the
system's save dialog, answering a path in a folder the test names.
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from blink_desktop.basiq.client import BasiqClient
from blink_desktop.basiq.models import Account, Transaction
from blink_desktop.emulator import DEFAULT_API_KEY, Emulator
from tests.conftest import wait_for
from tests.gui.test_desktop_app import IFRAME, Desktop, blink_frame
from tests.gui.test_desktop_app import desktop as desktop  # noqa: F401  (the window fixture)

pytestmark = pytest.mark.gui

EXPORT_DIR = "BLINK_TEST_EXPORT_DIR"
LAUNCHER = f"""
import os, sys
from pathlib import Path
from blink_desktop.app import exports
exports.ask_where = lambda window, suggested, fmt: Path(os.environ[{EXPORT_DIR!r}]) / suggested
from blink_desktop.cli import main
sys.exit(main(sys.argv[1:]))
"""
APP = (sys.executable, "-c", LAUNCHER)

PAGE = "document.getElementById('connection-page')"
ROWS = "[...document.querySelectorAll('#tx-rows .tx-row')]"
COUNT = "document.getElementById('tx-count').textContent"


@dataclass
class Bank:
    """What the emulator's API holds for one connection, read as any Basiq client reads it."""

    client: BasiqClient
    api_key: str
    user_id: str
    connection_id: str

    def _token(self) -> str:
        return self.client.token(self.api_key, "SERVER_ACCESS").access_token  # never expired

    def accounts(self) -> list[Account]:
        return self.client.accounts(self._token(), self.user_id, self.connection_id)

    def transactions(self) -> list[Transaction]:
        return self.client.transactions(
            self._token(), self.user_id, connection_id=self.connection_id
        )

    def connection_ids(self) -> set[str]:
        return {item.id for item in self.client.connections(self._token(), self.user_id)}


def day(item: Transaction) -> str:
    moment = item.date
    assert moment is not None
    return moment.date().isoformat()


def newest_first(items: list[Transaction]) -> list[Transaction]:
    return sorted(items, key=day, reverse=True)


def connect_hooli(app: Desktop, api_key: str = DEFAULT_API_KEY) -> Bank:
    """Connect Hooli in the window; the bank as the API behind this window's Blink holds it."""
    frame = app.connect_click()
    api_url = app.cdp.evaluate(f"new URL({IFRAME}.src).origin")
    app.log_in(frame, "gavinBelson", "hooli2016")
    frame.click("#done")
    app.cdp.wait_for("document.getElementById('panel').hidden", 20)
    app.cdp.wait_for(
        "(i => !!i && i.dataset.status === 'active')(document.querySelector('#connections .item'))",
        30,
    )
    [stored] = app.cli("connections", "--json")
    return Bank(BasiqClient(api_url), api_key, stored["user_id"], stored["id"])


def open_page(app: Desktop, bank: Bank) -> None:
    app.cdp.click(f'#connections .item[data-id="{bank.connection_id}"] .item-open')
    app.cdp.wait_for(f"!{PAGE}.hidden && {ROWS}.length > 0", 20)


def simulate_break(app: Desktop) -> None:
    """Simulate → Break: the bank now refuses the saved password."""
    app.cdp.click("#conn-simulate summary")
    app.cdp.click("#sim-break")
    app.cdp.wait_for("document.getElementById('conn-notice').textContent.includes('Broken')", 10)


def refresh_fails_needing_a_fix(app: Desktop) -> None:
    """Refresh a broken connection: it fails in words, and the page offers Fix."""
    app.cdp.click("#conn-refresh")
    app.cdp.wait_for(
        "document.getElementById('conn-notice').dataset.kind === 'error'"
        " && !document.getElementById('conn-fix').hidden",
        60,
    )
    assert "refused the saved password" in (app.cdp.text("#conn-notice") or "")
    assert app.cdp.text("#conn-status") == "Needs fixing"


def fix_in_blink(app: Desktop) -> None:
    """Fix: Blink in update mode, the password again, then the page Active and up to date."""
    app.cdp.click("#conn-fix")
    app.cdp.wait_for(f"{IFRAME} && new URL({IFRAME}.src).searchParams.get('connection_id')", 20)
    frame = blink_frame(app.cdp, app.cdp.evaluate(f"new URL({IFRAME}.src).origin"))
    frame.wait_for("document.getElementById('title').textContent === 'Login'", 20)
    frame.type("#loginId", "gavinBelson")
    frame.type("#password", "hooli2016")
    frame.click("#connect")
    frame.wait_visible("#screen-result", 20)
    assert frame.text("#title") == "Success"
    frame.click("#done")
    app.cdp.wait_for("document.getElementById('panel').hidden", 20)
    app.cdp.wait_for("document.getElementById('conn-status').textContent === 'Active'", 30)
    app.cdp.wait_for("document.getElementById('conn-fix').hidden", 5)
    app.cdp.wait_for("document.getElementById('conn-notice').textContent === 'Up to date.'", 60)


def refresh_shows_steps_then_new_rows(
    app: Desktop, bank: Bank, before: list[Transaction]
) -> list[Transaction]:
    """Refresh, after days passed at the bank: the job's steps show as they go, then the page
    holds what the API holds, with rows the bank added meanwhile; returns the API's rows."""
    app.cdp.evaluate(
        "window.__steps = new Set(); new MutationObserver(() => document.querySelectorAll("
        "'#conn-steps li').forEach(li => window.__steps.add(li.dataset.title + ':' +"
        " li.dataset.status))).observe(document.getElementById('conn-steps'),"
        " {childList: true, subtree: true, attributes: true})"
    )
    app.cdp.click("#conn-refresh")
    # The notice may still say an earlier refresh was up to date: wait for this one's end.
    app.cdp.wait_for(
        "window.__steps.has('retrieve-transactions:success')"
        " && !document.getElementById('conn-refresh').disabled"
        " && document.getElementById('conn-notice').textContent === 'Up to date.'",
        60,
    )
    steps = set(app.cdp.evaluate("[...window.__steps]"))
    assert any(step.endswith((":in-progress", ":pending")) for step in steps)
    more = assert_page_matches(app, bank)
    assert len(more) > len(before), (
        f"no new rows; newest before {newest_first(before)[0].date},"
        f" after {newest_first(more)[0].date}"
    )
    return more


def shown_accounts(app: Desktop) -> dict[str, list[str]]:
    rows: dict[str, list[str]] = app.cdp.evaluate(
        "Object.fromEntries([...document.querySelectorAll('#accounts tbody tr')].map(tr =>"
        " [tr.dataset.id, [...tr.cells].map(c => c.textContent)]))"
    )
    return rows


def amount_of(text: str) -> Decimal:
    """A shown amount ("-A$4,828.14") as a number."""
    digits = "".join(ch for ch in text if ch.isdigit() or ch == ".")
    return -Decimal(digits) if "-" in text or "−" in text else Decimal(digits)


def shown_count(app: Desktop) -> int:
    text: str = app.cdp.evaluate(COUNT)
    return int(text.split()[0].replace(",", ""))


def wait_count(app: Desktop, expected: int, total: int, timeout: float = 10) -> None:
    want = (
        f"{total:,} transactions, newest first"
        if expected == total
        else f"{expected:,} of {total:,} transactions"
    )
    app.cdp.wait_for(f"{COUNT} === {json.dumps(want)}", timeout)


def assert_page_matches(app: Desktop, bank: Bank) -> list[Transaction]:
    """The page's accounts and transactions are the API's; the API's transactions."""
    accounts = bank.accounts()
    shown = shown_accounts(app)
    assert set(shown) == {account.id for account in accounts}
    for account in accounts:
        name, number, _kind, balance, available, currency = shown[account.id]
        assert name == account.name
        assert number == "••" + "".join(ch for ch in account.accountNo or "" if ch.isalnum())[-4:]
        assert amount_of(balance) == account.balance
        assert amount_of(available) == account.availableFunds
        assert currency == account.currency
    transactions = bank.transactions()
    wait_count(app, len(transactions), len(transactions))
    first_id = app.cdp.evaluate(f"{ROWS}[0].dataset.id")
    newest = newest_first(transactions)
    assert first_id in {item.id for item in newest if day(item) == day(newest[0])}
    return transactions


def search(app: Desktop, text: str) -> None:
    app.cdp.type("#tx-search", text)


def choose(app: Desktop, selector: str, value: str) -> None:
    app.cdp.evaluate(
        f"(el => {{ el.value = {json.dumps(value)}; el.dispatchEvent(new Event('change')); }})"
        f"(document.querySelector({json.dumps(selector)}))"
    )


def canvas_drawn(app: Desktop, canvas: str) -> bool:
    """Whether Chart.js drew on the canvas: a chart bound to it, and painted pixels."""
    drawn: bool = app.cdp.evaluate(
        f"""(c => !!window.Chart && !!Chart.getChart(c) && c.width > 0 &&
        c.getContext('2d').getImageData(0, 0, c.width, c.height).data.some(v => v !== 0))
        (document.getElementById({json.dumps(canvas)}))"""
    )
    return drawn


@pytest.fixture
def exports_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    folder = tmp_path / "exports"
    folder.mkdir()
    monkeypatch.setenv(EXPORT_DIR, str(folder))
    yield folder


def test_a_connections_page_shows_what_basiq_holds_and_acts_on_it(
    desktop: Callable[..., Desktop],  # noqa: F811
    exports_dir: Path,
) -> None:
    app = desktop(APP)
    bank = connect_hooli(app)
    open_page(app, bank)
    app.cdp.press("Escape")  # back to the list, and its row has the focus
    app.cdp.wait_for(f"{PAGE}.hidden && !document.getElementById('list-section').hidden", 5)
    assert app.cdp.evaluate("document.activeElement.className") == "item-open"
    open_page(app, bank)
    assert app.cdp.text("#conn-title") == "Hooli"
    assert app.cdp.text("#conn-status") == "Active"
    assert app.cdp.evaluate("document.getElementById('conn-fetched').textContent").startswith(
        "as of "
    )
    transactions = assert_page_matches(app, bank)
    accounts = bank.accounts()
    assert len(transactions) > 100

    # Only the rows in view are in the page; the last row is the oldest.
    assert app.cdp.evaluate(f"{ROWS}.length") < 60
    app.cdp.evaluate("(v => v.scrollTop = v.scrollHeight)(document.getElementById('tx-viewport'))")
    oldest = newest_first(transactions)[-1]
    app.cdp.wait_for(f"{ROWS}.some(r => r.dataset.id === {json.dumps(oldest.id)})", 5)

    # In and out are told apart by sign and word, not colour alone.
    signs = app.cdp.evaluate(
        f"{ROWS}.map(r => [r.classList.contains('credit'), r.querySelector('.tx-dir').textContent,"
        " r.querySelector('.tx-value').textContent[0]])"
    )
    assert {(credit, word, sign) for credit, word, sign in signs} <= {
        (True, "↓ In", "+"),
        (False, "↑ Out", "−"),
    }

    # Search as you type: what the description, category or account name holds.
    names = {account.id: account.name or "" for account in accounts}
    word = next(item.description.split()[0] for item in transactions if item.description)
    term = word.lower()
    expected = [
        item
        for item in transactions
        if term in f"{item.description}\0{item.category or ''}\0{names[item.account]}".lower()
    ]
    search(app, word)
    wait_count(app, len(expected), len(transactions))
    shown_ids = app.cdp.evaluate(f"{ROWS}.map(r => r.dataset.id)")
    assert set(shown_ids) <= {item.id for item in expected}
    search(app, "")
    wait_count(app, len(transactions), len(transactions))

    # Filters: an account, then a date range.
    account = accounts[0]
    choose(app, "#tx-account", account.id)
    wait_count(app, sum(item.account == account.id for item in transactions), len(transactions))
    choose(app, "#tx-account", "")
    days = sorted({day(item) for item in transactions})
    start, end = days[len(days) // 3], days[2 * len(days) // 3]
    choose(app, "#tx-from", start)
    choose(app, "#tx-to", end)
    wait_count(app, sum(start <= day(item) <= end for item in transactions), len(transactions))
    choose(app, "#tx-from", "")
    choose(app, "#tx-to", "")
    wait_count(app, len(transactions), len(transactions))

    # Both charts are drawn; the balance chart has a line per account.
    app.cdp.wait_for(
        "!!window.Chart && !!Chart.getChart(document.getElementById('chart-spending'))", 10
    )
    assert canvas_drawn(app, "chart-balance") and canvas_drawn(app, "chart-spending")
    lines = app.cdp.evaluate(
        "Chart.getChart(document.getElementById('chart-balance')).data.datasets.length"
    )
    assert lines == len(accounts)

    # Simulate: days pass at the bank; a refresh shows the job's steps, then the new rows.
    app.cdp.click("#conn-simulate summary")
    app.cdp.type("#sim-days", "3")
    app.cdp.click("#sim-time button")
    app.cdp.wait_for("document.getElementById('conn-notice').textContent.includes('passed')", 10)
    refresh_shows_steps_then_new_rows(app, bank, transactions)

    # Break it: the next refresh fails in words, and Fix logs in again in Blink's update mode.
    simulate_break(app)
    refresh_fails_needing_a_fix(app)
    fix_in_blink(app)
    assert_page_matches(app, bank)

    # Export, as CSV then JSON: every transaction of the connection, as the API holds them.
    held = {item.id: item for item in bank.transactions()}
    for fmt in ("csv", "json"):
        app.cdp.click("#conn-export summary")
        app.cdp.click(f'#conn-export-form input[value="{fmt}"]')
        app.cdp.click("#conn-export-form button[type=submit]")
        app.cdp.wait_for(
            "(t => t.startsWith('Saved ') && t.endsWith('.{fmt}.'))"
            "(document.getElementById('conn-notice').textContent)".replace("{fmt}", fmt),
            20,
        )
        [written] = exports_dir.glob(f"*.{fmt}")
        assert written.name == f"hooli-transactions-{date.today().isoformat()}.{fmt}"
        text = written.read_text(encoding="utf-8")
        records = list(csv.DictReader(text.splitlines())) if fmt == "csv" else json.loads(text)
        assert {record["id"] for record in records} == set(held)
        for record in records:
            assert Decimal(record["amount"]) == held[record["id"]].amount
            assert record["account_id"] == held[record["id"]].account
        assert str(written) in (app.cdp.text("#conn-notice") or "")

    # Delete, after a confirmation that names the bank: gone at Basiq and here.
    app.cdp.click("#conn-delete")
    app.cdp.wait_for("document.getElementById('delete-dialog').open", 5)
    assert app.cdp.text("#delete-title") == "Delete Hooli?"
    app.cdp.press("Escape")  # changed their mind: nothing is deleted
    app.cdp.wait_for("!document.getElementById('delete-dialog').open", 5)
    assert bank.connection_id in bank.connection_ids()
    assert app.cdp.evaluate(f"{PAGE}.hidden") is False
    app.cdp.click("#conn-delete")
    app.cdp.wait_for("document.getElementById('delete-dialog').open", 5)
    app.cdp.click("#delete-confirm")
    app.cdp.wait_for(f"{PAGE}.hidden && !document.getElementById('list-section').hidden", 20)
    app.cdp.wait_for("document.querySelectorAll('#connections .item').length === 0", 10)
    assert "Hooli was deleted" in (app.cdp.text("#notice") or "")
    assert bank.connection_id not in bank.connection_ids()
    assert app.cli("connections", "--json") == []
    deleted = [event for event in app.cli("events", "--json") if event["event"] == "deleted"]
    assert deleted, "the event log keeps the deletion"


def test_the_same_data_after_a_restart_with_basiq_out_of_reach(
    desktop: Callable[..., Desktop],  # noqa: F811
) -> None:
    """Direct mode against an emulator this test runs; then stopped: the page shows what was
    fetched, and says when, and that it is offline."""
    with Emulator(job_speed=20) as emulator:
        settings = {
            "api_key": emulator.api_key,
            "api_url": emulator.url,
            "blink_url": f"{emulator.url}/index.html",
        }
        app = desktop(**settings)
        bank = connect_hooli(app, emulator.api_key)
        open_page(app, bank)
        transactions = assert_page_matches(app, bank)
        accounts = shown_accounts(app)
        assert app.cdp.evaluate(f"{PAGE}.hidden") is False
        assert not app.cdp.visible("#conn-simulate"), "Simulate is the embedded emulator's"
        # Refresh all, from the list: every connection's refresh job, then a word on how it went.
        app.cdp.click("#conn-back")
        app.cdp.wait_for("!document.getElementById('list-section').hidden", 5)
        app.cdp.click("#refresh-all")
        app.cdp.wait_for(
            "document.getElementById('notice').textContent === 'Every connection is up to date.'",
            60,
        )
        open_page(app, bank)
        app.cdp.wait_for(f"{PAGE}.dataset.updated === 'true'", 30)
        fetched = app.cdp.text("#conn-fetched")
        app.process.terminate()
        app.process.wait(20)
    again = desktop(**settings)
    again.cdp.wait_for("document.querySelectorAll('#connections .item').length === 1", 20)
    open_page(again, bank)
    wait_count(again, len(transactions), len(transactions))
    assert shown_accounts(again) == accounts
    again.cdp.wait_for(f"{PAGE}.dataset.offline === 'true'", 60)
    assert again.cdp.text("#conn-fetched") == f"Offline: {fetched}"
    # From 360 px wide, as the rest of the window: nothing runs off the side.
    again.cdp.send(
        "Emulation.setDeviceMetricsOverride",
        {"width": 360, "height": 700, "deviceScaleFactor": 1, "mobile": False},
    )
    # The charts follow the narrower window too (Chart.js resizes them with their box).
    again.cdp.wait_for("document.documentElement.scrollWidth <= window.innerWidth", 5)
    wait_for(lambda: again.cdp.evaluate(f"{ROWS}.length") > 0)

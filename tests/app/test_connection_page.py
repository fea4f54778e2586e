"""The connection page's bridge methods, on the app as the window builds it (embedded emulator,
real SQLite files), compared with what the emulator's API holds."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import requests

from blink_desktop.app import wiring
from blink_desktop.app.bridge import Bridge
from blink_desktop.app.connection_page import ConnectionPages
from blink_desktop.app.exports import Format
from blink_desktop.app.starting import Pending
from blink_desktop.basiq.client import BasiqClient
from blink_desktop.basiq.models import Job, Transaction
from blink_desktop.settings import load_settings
from tests.app.conftest import TOKEN
from tests.conftest import FAST, wait_for

PERSON = "gavin@hooli.com"


@dataclass
class Page:
    """The app, its bridge with the connection page, the person's Basiq user and the API."""

    app: wiring.App
    bridge: Bridge
    pages: ConnectionPages
    user_id: str
    client: BasiqClient
    api_key: str
    saved: list[tuple[str, Format]]

    def token(self) -> str:
        return self.client.token(self.api_key, "SERVER_ACCESS").access_token

    def connect(self, login: str = "gavinBelson", password: str = "hooli2016") -> str:
        """A Hooli connection made at the emulator and stored as the window stores one."""
        client_token = self.client.token(self.api_key, "CLIENT_ACCESS", self.user_id)
        response = requests.post(
            f"{self.client.base_url}/users/{self.user_id}/connections",
            headers={"Authorization": f"Bearer {client_token.access_token}"},
            json={"loginId": login, "password": password, "institution": {"id": "AU00000"}},
            timeout=10,
        )
        assert response.status_code == 202, response.text
        job_id = response.json()["id"]

        def finished() -> Job | None:
            job = self.client.job(self.token(), job_id)
            return job if job.done else None

        job = wait_for(finished)
        connection_id = job.connection_id
        assert not job.failed and connection_id
        with self.app.store.writing("the connection") as tx:
            tx.upsert_connection(connection_id, self.user_id, job_id)
            tx.describe(connection_id, institution_id="AU00000", institution="Hooli", detail=None)
            tx.set_status(connection_id, "active", "job")
        return connection_id

    def transactions(self, connection_id: str) -> list[Transaction]:
        return self.client.transactions(self.token(), self.user_id, connection_id=connection_id)

    def call(self, name: str, *args: Any) -> dict[str, Any]:
        reply: dict[str, Any] = getattr(self.bridge, name)(TOKEN, *args)
        return reply

    def refreshed(self, connection_id: str | None) -> dict[str, Any]:
        task = self.call("refresh_connections", connection_id)["task"]
        return wait_for(lambda: (p := self.call("refresh_progress", task))["done"] and p, 30)


@pytest.fixture
def page(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Page]:
    monkeypatch.setenv("BLINK_DESKTOP_EMULATOR_JOB_SPEED", str(FAST))
    monkeypatch.setenv("BLINK_DESKTOP_USER", PERSON)
    app = wiring.build(load_settings())
    saved: list[tuple[str, Format]] = []

    def ask_where(suggested: str, fmt: Format) -> Path | None:
        saved.append((suggested, fmt))
        return tmp_path / "exports" / suggested if (tmp_path / "exports").is_dir() else None

    pages = ConnectionPages(Pending.of(app), ask_where)
    bridge = Bridge(app.service, TOKEN, pages=pages)
    try:
        assert bridge.set_identifier(TOKEN, PERSON)["ok"] is True
        user_id = app.service.basiq_user_id()
        assert app.upstream is not None and user_id is not None
        client = BasiqClient(app.upstream.api_url)
        yield Page(app, bridge, pages, user_id, client, app.upstream.api_key, saved)
    finally:
        app.close()


def test_the_page_shows_what_basiq_holds_once_fetched(page: Page) -> None:
    connection_id = page.connect()
    fetched = page.call("fetch_connection", connection_id)
    assert fetched["ok"] is True and fetched["changed"] is True
    assert page.call("fetch_connection", connection_id)["changed"] is False
    shown = page.call("connection_page", connection_id)
    assert shown["simulate"] is True  # the embedded emulator
    assert shown["connection"]["institution"] == "Hooli"
    assert shown["connection"]["status"] == "active"
    assert shown["connection"]["fetched"] is not None
    accounts = page.client.accounts(page.token(), page.user_id, connection_id)
    assert {a["id"]: Decimal(a["balance"]) for a in shown["accounts"]} == {
        a.id: a.balance for a in accounts
    }
    rows = page.call("connection_transactions", connection_id)["rows"]
    held = page.transactions(connection_id)
    assert [row[0] for row in rows] and {row[0] for row in rows} == {t.id for t in held}
    days = [row[1] for row in rows]
    assert days == sorted(days, reverse=True)  # newest first
    first = page.call("connection_transactions", connection_id, 5)
    assert first["rows"] == rows[:5] and first["total"] == len(rows) and not first["complete"]
    amounts = {t.id: t.amount for t in held}
    assert all(Decimal(row[3]) == amounts[row[0]] for row in rows)
    assert page.app.upstream is not None
    assert page.app.upstream.api_key not in json.dumps([shown, rows])


def test_refresh_reports_each_step_then_brings_new_rows(page: Page) -> None:
    connection_id = page.connect()
    page.call("fetch_connection", connection_id)
    before = len(page.call("connection_transactions", connection_id)["rows"])
    said = page.call("simulate", "pass-time", connection_id, 3)
    assert said["ok"] is True and "Refresh" in said["message"]
    done = page.refreshed(connection_id)
    assert done["failures"] == []
    steps = {(step["title"], step["status"]) for step in done["steps"]}
    assert ("retrieve-transactions", "success") in steps
    assert {step["connection"] for step in done["steps"]} == {connection_id}
    rows = page.call("connection_transactions", connection_id)["rows"]
    assert len(rows) > before
    assert {row[0] for row in rows} == {t.id for t in page.transactions(connection_id)}


def test_a_broken_connection_fails_to_refresh_in_words_and_needs_fixing(page: Page) -> None:
    connection_id = page.connect()
    assert page.call("simulate", "break", connection_id)["ok"] is True
    done = page.refreshed(connection_id)
    [failure] = done["failures"]
    assert failure["connection"] == connection_id
    assert "refused the saved password" in failure["error"] and "Fix" in failure["error"]
    assert page.call("connection_page", connection_id)["connection"]["status"] == "invalid"
    # Refresh all: the same failure, told for this connection.
    assert page.refreshed(None)["failures"][0]["connection"] == connection_id


def test_export_writes_what_is_stored_where_the_dialog_says(page: Page, tmp_path: Path) -> None:
    connection_id = page.connect()
    page.call("fetch_connection", connection_id)
    assert page.call("export_transactions", connection_id, "csv") == {"ok": True, "cancelled": True}
    (tmp_path / "exports").mkdir()
    held = {t.id: t for t in page.transactions(connection_id)}
    for fmt in ("csv", "json"):
        reply = page.call("export_transactions", connection_id, fmt)
        assert reply["ok"] is True and reply["count"] == len(held)
        text = Path(reply["path"]).read_text(encoding="utf-8")
        records = list(csv.DictReader(text.splitlines())) if fmt == "csv" else json.loads(text)
        assert {r["id"]: Decimal(r["amount"]) for r in records} == {
            i: t.amount for i, t in held.items()
        }
        assert Path(reply["path"]).stat().st_mode & 0o077 == 0  # owner-only, as the database
    assert page.saved[-1][0].startswith("hooli-transactions-")
    everything = page.call("export_transactions", None, "json")
    assert everything["count"] == len(held) and page.saved[-1][0].startswith("all-transactions-")
    refused = page.call("export_transactions", connection_id, "xlsx")
    assert refused == {"ok": False, "error": "Export as CSV or JSON.", "retry": False}


def test_delete_removes_it_at_basiq_and_here(page: Page) -> None:
    connection_id = page.connect()
    page.call("fetch_connection", connection_id)
    reply = page.call("delete_connection", connection_id)
    assert reply == {"ok": True, "deleted": connection_id, "institution": "Hooli"}
    assert page.app.store.connection(connection_id) is None
    listed = page.client.connections(page.token(), page.user_id)
    assert connection_id not in {item.id for item in listed}
    gone = page.call("connection_page", connection_id)
    assert gone["ok"] is False and "not in your list" in gone["error"]


def test_bad_input_gets_words_and_a_wrong_token_nothing(page: Page) -> None:
    connection_id = page.connect()
    refused = {"ok": False, "error": "Refused: this call did not come from the app's own page."}
    for name, args in [
        ("connection_page", (connection_id,)),
        ("connection_transactions", (connection_id,)),
        ("fetch_connection", (connection_id,)),
        ("refresh_connections", (connection_id,)),
        ("refresh_progress", ("refresh-1",)),
        ("delete_connection", (connection_id,)),
        ("export_transactions", (connection_id, "csv")),
        ("simulate", ("break", connection_id)),
    ]:
        assert getattr(page.bridge, name)("wrong", *args) == refused
    assert page.app.store.connection(connection_id) is not None
    for bad in (None, 42, "", "no-such-connection", {"id": connection_id}):
        reply = page.call("connection_page", bad)
        assert reply["ok"] is False and "not in your list" in reply["error"]
    for days in (0, -1, 400, "3", None, True):
        reply = page.call("simulate", "pass-time", connection_id, days)
        assert reply["ok"] is False and "days pass" in reply["error"]
    assert page.call("simulate", "explode", connection_id)["ok"] is False
    assert page.call("refresh_progress", "refresh-999")["ok"] is False
    assert page.saved == []


def test_simulate_is_the_embedded_emulators_only(
    monkeypatch: pytest.MonkeyPatch, page: Page
) -> None:
    connection_id = page.connect()
    direct = wiring.App(
        service=page.app.service, store=page.app.store, mode="direct", manager=page.app.manager
    )
    bridge = Bridge(page.app.service, TOKEN, pages=ConnectionPages(Pending.of(direct)))
    assert bridge.connection_page(TOKEN, connection_id)["simulate"] is False
    reply = bridge.simulate(TOKEN, "break", connection_id)
    assert reply["ok"] is False and "embedded emulator" in reply["error"]
    saved = bridge.export_transactions(TOKEN, connection_id, "csv")
    assert saved["ok"] is False and "save dialog" in saved["error"]

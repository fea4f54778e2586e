"""A connection's page in backend mode: the app holds no key, `serve` does, an emulator is Basiq.

The same person's steps as tests/gui/test_connection_page.py (whose helpers this reuses), with
every account, transaction, refresh and deletion going through your server's data endpoints
(server/data_routes.py) via app/backend.py: connect Hooli, open it and compare with what the
emulator's API holds, refresh with the job's steps, a broken connection fixed, delete; the
command line on the same data folder; no Simulate; and no server token ever in the app's hands.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Callable
from pathlib import Path

import jwt
import pytest

from blink_desktop.emulator import Emulator
from tests.gui.test_connection_page import (
    PAGE,
    assert_page_matches,
    connect_hooli,
    fix_in_blink,
    open_page,
    refresh_fails_needing_a_fix,
    refresh_shows_steps_then_new_rows,
)
from tests.gui.test_desktop_app import Desktop, backend_app
from tests.gui.test_desktop_app import desktop as desktop  # noqa: F401  (the window fixture)

pytestmark = pytest.mark.gui

# Every bridge reply the page gets, as JSON text, recorded on its way to the page.
RECORD_REPLIES = """(() => {
  window.__replies = [];
  const api = window.pywebview.api;
  for (const name of Object.keys(api)) {
    const call = api[name];
    if (typeof call !== 'function') continue;
    api[name] = async (...args) => {
      const reply = await call.apply(api, args);
      window.__replies.push([name, JSON.stringify(reply)]);
      return reply;
    };
  }
})()"""
JWT = re.compile(r"eyJ[\w-]+\.[\w-]+\.[\w-]+")


def server_tokens_in(text: str) -> list[str]:
    """Every JWT in the text whose scope is SERVER_ACCESS (signature not checked: any kind)."""
    found = []
    for candidate in JWT.findall(text):
        try:
            claims = jwt.decode(candidate, options={"verify_signature": False})
        except jwt.PyJWTError:
            continue
        if claims.get("scope") == "SERVER_ACCESS":
            found.append(candidate)
    return found


def test_the_connection_page_in_backend_mode_against_serve(
    desktop: Callable[..., Desktop],  # noqa: F811
    tmp_path: Path,
) -> None:
    with Emulator(job_speed=20) as emulator:
        server, http, app = backend_app(desktop, emulator, tmp_path)
        try:
            app.cdp.wait_for("!!window.pywebview && !!window.pywebview.api.connection_page", 20)
            app.cdp.evaluate(RECORD_REPLIES)
            bank = connect_hooli(app, emulator.api_key)
            open_page(app, bank)
            transactions = assert_page_matches(app, bank)
            assert app.cdp.text("#conn-status") == "Active"

            # Simulate is the embedded emulator's: not offered, and refused if asked anyway.
            assert not app.cdp.visible("#conn-simulate")
            refused = app.cdp.evaluate(
                "window.pywebview.api.simulate(window.pywebview.token, 'break',"
                f" {json.dumps(bank.connection_id)})",
                await_promise=True,
            )
            assert refused["ok"] is False and "embedded emulator only" in refused["error"]

            # A password changed at the bank: the refresh fails in words, and Fix mends it.
            emulator.break_connection(bank.connection_id)
            refresh_fails_needing_a_fix(app)
            fix_in_blink(app)
            assert_page_matches(app, bank)

            # Days pass at the bank; a refresh through the server shows the job's steps live.
            emulator.pass_time(days=3)
            more = refresh_shows_steps_then_new_rows(app, bank, transactions)

            # The command line on the same data folder, in backend mode too.
            emulator.pass_time(days=2)
            refreshed = subprocess.run(
                [*app.command, "refresh", bank.connection_id],
                env=app.env,
                capture_output=True,
                text=True,
                timeout=120,
            )
            assert refreshed.returncode == 0, refreshed.stderr
            lines = refreshed.stdout.splitlines()
            assert "Hooli: retrieve-transactions success" in lines
            assert lines[-1].startswith("Hooli: refreshed; ")
            accounts = app.cli("accounts", "--fetch", "--json")
            assert {(a["id"], a["balance"], a["available"], a["name"]) for a in accounts} == {
                (a.id, str(a.balance), str(a.availableFunds), a.name) for a in bank.accounts()
            }
            listed = app.cli("transactions", "--json")
            held = bank.transactions()
            assert len(held) > len(more)  # the refresh brought the days that passed
            assert sorted((t["id"], t["amount"], t["account_id"]) for t in listed) == sorted(
                (t.id, str(t.amount), t.account) for t in held
            )

            # Delete: gone at Basiq and here.
            app.cdp.click("#conn-delete")
            app.cdp.wait_for("document.getElementById('delete-dialog').open", 5)
            assert app.cdp.text("#delete-title") == "Delete Hooli?"
            app.cdp.click("#delete-confirm")
            app.cdp.wait_for(
                f"{PAGE}.hidden && !document.getElementById('list-section').hidden", 20
            )
            app.cdp.wait_for("document.querySelectorAll('#connections .item').length === 0", 10)
            assert bank.connection_id not in bank.connection_ids()
            assert app.cli("connections", "--json") == []
            assert app.cli("accounts", "--json") == []

            # No server token reached the app: not its log, its events, its data, nor the page.
            replies = app.cdp.evaluate("window.__replies")
            called = {name for name, _ in replies}
            assert {"connection_page", "refresh_connections", "refresh_progress"} <= called
            assert "delete_connection" in called
            seen = [text for _, text in replies]
            seen.append(json.dumps(app.cli("events", "--json")))
            data = Path(app.env["BLINK_DESKTOP_DATA_DIR"])
            logs = Path(app.env["BLINK_DESKTOP_LOG_DIR"])
            for folder in (data, logs):
                for file in folder.rglob("*"):
                    if file.is_file():
                        seen.append(file.read_bytes().decode("latin-1"))
            everything = "\n".join(seen)
            assert f"backend mode, your server at {http.url}" in everything  # the app's log
            assert server_tokens_in(server.keyholder.server_token())  # what it looks for
            assert server_tokens_in(everything) == []
            assert server.keyholder.server_token() not in everything
            assert emulator.api_key not in everything
            http.stop()
        finally:
            server.close()

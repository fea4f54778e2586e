"""`accounts`, `transactions`, `refresh` and `delete` on the command line, in direct mode
against a real emulator: what they print equals what Basiq's API holds."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from blink_desktop import cli
from blink_desktop.app.store import Store
from blink_desktop.basiq.client import BasiqClient
from blink_desktop.emulator import Emulator
from tests.conftest import Api


@pytest.fixture
def direct(emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> Emulator:
    """The app in direct mode, with the emulator as Basiq."""
    monkeypatch.setenv("BLINK_DESKTOP_API_KEY", emulator.api_key)
    monkeypatch.setenv("BLINK_DESKTOP_API_URL", emulator.url)
    return emulator


@pytest.fixture
def connection(direct: Emulator, api: Api, tmp_path: Path) -> tuple[str, str]:
    """(user, connection id): Hooli connected at the emulator and stored as the app does."""
    user = api.user()
    connection_id = api.connected(user)
    store = Store(tmp_path / "data" / "blink-desktop.sqlite")
    try:
        with store.writing("the connection") as tx:
            tx.upsert_connection(connection_id, user, None)
            tx.describe(connection_id, institution_id="AU00000", institution="Hooli", detail=None)
    finally:
        store.close()
    return user, connection_id


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_accounts_and_transactions_print_what_the_api_holds(
    connection: tuple[str, str], api: Api, direct: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    user, connection_id = connection
    client, token = BasiqClient(direct.url), api.token()
    code, out, _ = run(capsys, "accounts", "--json")
    assert (code, json.loads(out)) == (0, [])  # nothing fetched yet: the local data only
    code, out, _ = run(capsys, "accounts", "--fetch", "--json")
    assert code == 0
    theirs = client.accounts(token, user, connection_id)
    assert [(a["id"], a["balance"], a["name"]) for a in json.loads(out)] == [
        (a.id, str(a.balance), a.name) for a in theirs
    ]
    code, out, _ = run(capsys, "transactions", "--connection", connection_id, "--csv")
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    listed = client.transactions(token, user, connection_id=connection_id)
    assert {(r["id"], r["amount"], r["direction"]) for r in rows} == {
        (t.id, str(t.amount), t.direction) for t in listed
    }
    assert [r["date"] for r in rows] == sorted((r["date"] for r in rows), reverse=True)
    account = theirs[0].id
    code, out, _ = run(capsys, "transactions", "--account", account, "--json")
    assert {t["id"] for t in json.loads(out)} == {
        t.id for t in client.transactions(token, user, account_id=account)
    }
    code, out, _ = run(capsys, "accounts")
    assert code == 0 and "Hooli" in out and str(theirs[0].name) in out


def test_bad_ids_and_dates_get_one_message_and_exit_2(
    connection: tuple[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "transactions", "--connection", "nope")
    assert (code, out) == (2, "")
    assert err.strip().splitlines() == [
        "blink-desktop: No bank connection has the id 'nope' here; "
        "`blink-desktop connections` lists them."
    ]
    code, _, err = run(capsys, "transactions", "--account", "nope")
    assert code == 2 and "`blink-desktop accounts` lists them" in err
    code, _, err = run(capsys, "refresh", "nope")
    assert code == 2 and "'nope'" in err
    code, _, err = run(capsys, "transactions", "--from", "2026-03-02", "--to", "2026-03-01")
    assert code == 2 and "wrong way round" in err
    with pytest.raises(SystemExit) as bad_date:
        cli.main(["transactions", "--from", "2026-02-30"])
    assert bad_date.value.code == 2
    assert "'2026-02-30' is not a date: write it YYYY-MM-DD" in capsys.readouterr().err


def test_refresh_shows_the_steps_then_what_came(
    connection: tuple[str, str], direct: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    _, connection_id = connection
    code, out, err = run(capsys, "refresh", connection_id)
    assert code == 0, err
    lines = out.splitlines()
    assert "Hooli: verify-credentials success" in lines
    assert lines.index("Hooli: retrieve-accounts success") < lines.index(
        "Hooli: retrieve-transactions success"
    )
    assert lines[-1].startswith("Hooli: refreshed; ")
    direct.break_connection(connection_id)
    code, out, err = run(capsys, "refresh", "--all")
    assert code == 1
    assert "Hooli: verify-credentials failed" in out.splitlines()
    assert "Hooli refused the saved password" in err and "Use Fix" in err


def test_delete_asks_unless_yes_and_removes_it_everywhere(
    connection: tuple[str, str],
    api: Api,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    user, connection_id = connection
    assert run(capsys, "accounts", "--fetch", "--json")[0] == 0
    code, _, err = run(capsys, "delete", connection_id)  # pytest's stdin is no terminal
    assert code == 2 and "pass --yes to delete Hooli" in err
    code, out, _ = run(capsys, "delete", connection_id, "--yes")
    assert code == 0 and out.startswith(f"Deleted Hooli ({connection_id})")
    gone = api.call("GET", f"/users/{user}/connections/{connection_id}", api.token())
    assert gone.status_code == 404
    code, out, _ = run(capsys, "transactions", "--json")
    assert (code, json.loads(out)) == (0, [])
    code, out, _ = run(capsys, "events", "--json")
    assert json.loads(out)[-1]["event"] == "deleted"
    code, _, err = run(capsys, "delete", connection_id, "--yes")
    assert code == 2 and "No bank connection" in err


def test_on_a_terminal_the_steps_are_drawn_live_with_marks() -> None:
    from rich.console import Console

    from blink_desktop.app.terminal_steps import StepsShown

    shown = StepsShown({"c1": "Hooli"})
    screen = io.StringIO()
    shown._console = Console(file=screen, force_terminal=True, width=80, color_system=None)
    with shown:
        shown.step("c1", "verify-credentials", "in-progress")
        shown.step("c1", "verify-credentials", "success")
        shown.step("c1", "retrieve-accounts", "failed")
    drawn = screen.getvalue()
    assert "✓ verify-credentials (success)" in drawn
    assert "✗ retrieve-accounts (failed)" in drawn
    assert "Hooli: verify-credentials" not in drawn  # drawn in place, not printed line by line

"""The command line: its help, its errors, and its views of the app's database."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from blink_desktop import __version__, cli
from blink_desktop.app.store import Store
from blink_desktop.app.wiring import DATABASE
from blink_desktop.emulator import DEFAULT_API_KEY
from tests.app.test_store import record_success


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "blink_desktop", *args], capture_output=True, text=True, timeout=60
    )


def test_version_and_help() -> None:
    assert run("--version").stdout.strip() == f"blink-desktop {__version__}"
    helped = run("--help")
    assert helped.returncode == 0
    assert "emulator" in helped.stdout


def test_bad_setting_stops_the_program_with_one_line_and_no_traceback(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("BLINK_DESKTOP_LOG_LEVEL", "LOUD")
    result = run("emulator")
    assert result.returncode == 2
    assert result.stderr.startswith("blink-desktop: Setting BLINK_DESKTOP_LOG_LEVEL = 'LOUD'")
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


def test_bad_arguments_are_refused_by_argparse() -> None:
    with pytest.raises(SystemExit) as raised:
        cli.main(["emulator", "--job-speed", "-1"])
    assert raised.value.code == 2


def seed(data_dir: Path) -> None:
    store = Store(data_dir / DATABASE)
    record_success(store)
    with store.writing("the event") as tx:
        tx.log_event(
            "http://evil", "nope", event=None, accepted=False, reason="message is not JSON"
        )
    store.close()


def test_connections_as_json_csv_and_text(tmp_path: Path) -> None:
    seed(tmp_path / "data")
    [row] = json.loads(run("connections", "--json").stdout)
    assert (row["id"], row["user_id"], row["status"]) == ("conn-1", "u1", "connected")
    [as_csv] = list(csv.DictReader(io.StringIO(run("connections", "--csv").stdout)))
    assert as_csv["id"] == "conn-1"
    assert "conn-1" in run("connections").stdout


def test_a_connections_logo_and_detail_as_the_command_line_shows_them(tmp_path: Path) -> None:
    store = Store(tmp_path / "data" / DATABASE)
    record_success(store)
    with store.writing("the bank") as tx:
        tx.set_institution("conn-1", "Hooli", "data:image/svg+xml;base64," + "A" * 50_000)
    store._db.execute("UPDATE connections SET detail = 'Everyday ••1234'")
    store.close()
    [row] = json.loads(run("connections", "--json").stdout)
    assert "logo" not in row and row["detail"] == "Everyday ••1234"
    csv_text = run("connections", "--csv").stdout
    assert "data:image" not in csv_text and "logo" not in csv_text.splitlines()[0].split(",")
    assert "Hooli" in run("connections").stdout and "Everyday ••1234" in run("connections").stdout


def test_events_as_json_and_text(tmp_path: Path) -> None:
    seed(tmp_path / "data")
    events = json.loads(run("events", "--json").stdout)
    assert [(e["event"], e["accepted"]) for e in events] == [("connection", True), (None, False)]
    text = run("events").stdout
    assert "rejected: message is not JSON" in text


def test_listing_before_any_database_is_an_empty_list(tmp_path: Path) -> None:
    result = run("connections")
    assert (result.returncode, result.stdout, result.stderr) == (
        0,
        "No bank connections yet.\n",
        "",
    )
    assert json.loads(run("connections", "--json").stdout) == []
    assert run("connections", "--csv").stdout.startswith("id,user_id,")
    assert json.loads(run("events", "--json").stdout) == []
    assert run("events").stdout == "No messages received yet.\n"
    assert not (tmp_path / "data").exists()  # reading makes nothing


def test_a_data_dir_that_is_a_file_is_named_as_such(tmp_path: Path) -> None:
    (tmp_path / "data").write_text("not a folder")
    for args in (("connections",), ("events", "--json"), ("accounts",), ("transactions", "--json")):
        result = run(*args)
        assert result.returncode == 1
        assert f"The data folder {tmp_path / 'data'} is a file, not a folder" in result.stderr
        assert "Traceback" not in result.stderr
    assert (tmp_path / "data").read_text() == "not a folder"


def test_a_damaged_database_is_named_and_left_as_it_was(tmp_path: Path) -> None:
    damaged = tmp_path / "data" / DATABASE
    damaged.parent.mkdir()
    damaged.write_bytes(b"this is not SQLite" * 100)
    result = run("connections")
    assert result.returncode == 1
    assert f"The database {damaged} is damaged" in result.stderr
    assert "Move it aside" in result.stderr
    assert "disk" not in result.stderr and "Traceback" not in result.stderr
    assert damaged.read_bytes() == b"this is not SQLite" * 100


def test_a_damaged_emulator_state_file_is_named_and_left_as_it_was(tmp_path: Path) -> None:
    damaged = tmp_path / "state.sqlite"
    damaged.write_bytes(b"garbage" * 100)
    result = run("emulator", "--state", str(damaged))
    assert result.returncode == 1
    assert f"The emulator's state file {damaged} is damaged" in result.stderr
    assert "Traceback" not in result.stderr
    assert damaged.read_bytes() == b"garbage" * 100


def test_a_subcommands_wrong_option_shows_that_subcommands_usage() -> None:
    result = run("connections", "--xml")
    assert result.returncode == 2
    assert result.stderr.startswith("usage: blink-desktop connections [-h] [--json | --csv]")
    assert "unrecognized arguments: --xml" in result.stderr


def test_the_emulators_help_shows_its_default_api_key() -> None:
    assert DEFAULT_API_KEY in " ".join(run("emulator", "--help").stdout.split())

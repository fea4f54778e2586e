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


def test_events_as_json_and_text(tmp_path: Path) -> None:
    seed(tmp_path / "data")
    events = json.loads(run("events", "--json").stdout)
    assert [(e["event"], e["accepted"]) for e in events] == [("connection", True), (None, False)]
    text = run("events").stdout
    assert "rejected: message is not JSON" in text


def test_listing_before_any_database_says_what_to_do() -> None:
    result = run("connections")
    assert result.returncode == 1
    assert "No database yet" in result.stderr
    assert "Traceback" not in result.stderr

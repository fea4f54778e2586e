"""The app's wiring without a window, and its command-line views of the database."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from blink_desktop.store import Store

from blink_desktop import app
from blink_desktop.errors import SettingsError
from blink_desktop.settings import load_settings
from tests.test_store import record_success


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "blink_desktop", *args], capture_output=True, text=True, timeout=60
    )


def test_no_api_key_means_the_embedded_emulator_with_state_beside_the_data(tmp_path: Path) -> None:
    built = app.build(load_settings())
    try:
        assert built.emulator is not None
        assert built.service.emulated is True
        assert built.service.blink_url == f"{built.emulator.url}/index.html"
        assert (tmp_path / "data" / app.EMULATOR_STATE).exists()
        assert (tmp_path / "data" / app.DATABASE).exists()
    finally:
        built.close()


def test_a_url_without_a_key_is_a_settings_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BLINK_DESKTOP_API_URL", "https://au-api.basiq.io")
    with pytest.raises(SettingsError, match="BLINK_DESKTOP_API_KEY"):
        app.build(load_settings())


def test_real_basiq_settings_are_used_as_given(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BLINK_DESKTOP_API_KEY", "abc")
    built = app.build(load_settings())
    try:
        assert built.emulator is None
        assert built.service.blink_url == app.BASIQ_BLINK
        assert built.service.blink_origin == "https://js.basiq.io"
    finally:
        built.close()


def seed(data_dir: Path) -> None:
    store = Store(data_dir / app.DATABASE)
    record_success(store)
    store.record("http://evil", "nope", event=None, accepted=False, reason="message is not JSON")
    store.close()


def test_connections_as_json_csv_and_text(tmp_path: Path) -> None:
    seed(tmp_path / "data")
    [row] = json.loads(cli("connections", "--json").stdout)
    assert (row["id"], row["user_id"], row["status"]) == ("conn-1", "u1", "connected")
    [as_csv] = list(csv.DictReader(io.StringIO(cli("connections", "--csv").stdout)))
    assert as_csv["id"] == "conn-1"
    assert "conn-1" in cli("connections").stdout


def test_events_as_json_and_text(tmp_path: Path) -> None:
    seed(tmp_path / "data")
    events = json.loads(cli("events", "--json").stdout)
    assert [(e["event"], e["accepted"]) for e in events] == [("connection", True), (None, False)]
    text = cli("events").stdout
    assert "rejected: message is not JSON" in text


def test_listing_before_any_database_says_what_to_do() -> None:
    result = cli("connections")
    assert result.returncode == 1
    assert "No database yet" in result.stderr
    assert "Traceback" not in result.stderr

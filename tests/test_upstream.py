"""The upstream choice the app and the server share: Basiq with a key, or the emulator."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from blink_desktop import logs, upstream
from blink_desktop.errors import SettingsError
from blink_desktop.settings import load_settings


def test_a_key_means_basiq_and_the_key_is_scrubbed_from_logs(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("BLINK_DESKTOP_API_KEY", "the-key-123")
    chosen = upstream.key_or_emulator(load_settings(), tmp_path / "state.sqlite")
    assert (chosen.api_url, chosen.api_key, chosen.emulated) == (
        "https://au-api.basiq.io",
        "the-key-123",
        False,
    )
    assert chosen.blink_url == upstream.BASIQ_BLINK
    assert "the-key-123" not in logs.redactor.scrub("key=the-key-123")
    assert not (tmp_path / "state.sqlite").exists()


def test_no_key_means_an_emulator_whose_state_is_kept(tmp_path: Path) -> None:
    state = tmp_path / "state.sqlite"
    chosen = upstream.key_or_emulator(load_settings(), state)
    try:
        assert chosen.emulated and chosen.blink_url == f"{chosen.api_url}/index.html"
        assert requests.get(f"{chosen.api_url}/index.html", timeout=10).ok
        assert state.exists()
    finally:
        chosen.close()
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{chosen.api_url}/index.html", timeout=2)


def test_no_key_where_the_emulator_is_not_allowed_names_both_ways_to_give_one(
    tmp_path: Path,
) -> None:
    with pytest.raises(SettingsError, match="BLINK_DESKTOP_API_KEY.*blink-desktop login"):
        upstream.key_or_emulator(load_settings(), tmp_path / "s.sqlite", emulate=False)
    with pytest.raises(SettingsError, match="BLINK_DESKTOP_API_KEY"):
        upstream.key_or_emulator(
            load_settings(), tmp_path / "s.sqlite", api_url="https://au-api.basiq.io"
        )


def test_an_api_url_without_a_key_is_refused_for_the_emulator(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("BLINK_DESKTOP_API_URL", "https://au-api.basiq.io")
    with pytest.raises(SettingsError, match="unset the URL to use the built-in emulator"):
        upstream.emulator(load_settings(), tmp_path / "s.sqlite")


def test_the_emulators_lifecycle_controls_come_with_it_and_basiqs_has_none(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The window's Simulate menu drives the running emulator through `Upstream.simulator`."""
    chosen = upstream.emulator(load_settings(), tmp_path / "state.sqlite")
    try:
        assert chosen.simulator is not None
        headers = {"Authorization": f"Basic {chosen.api_key}", "basiq-version": "2.0"}
        token = requests.post(
            f"{chosen.api_url}/token", headers=headers, data={"scope": "SERVER_ACCESS"}, timeout=10
        ).json()["access_token"]
        bearer = {"Authorization": f"Bearer {token}"}
        assert requests.get(f"{chosen.api_url}/institutions", headers=bearer, timeout=10).ok
        chosen.simulator.expire_tokens()
        expired = requests.get(f"{chosen.api_url}/institutions", headers=bearer, timeout=10)
        assert expired.status_code == 403
        before = requests.get(f"{chosen.api_url}/_emulator/time", timeout=10).json()
        chosen.simulator.pass_time(days=2)
        after = requests.get(f"{chosen.api_url}/_emulator/time", timeout=10).json()
        assert after["passedSeconds"] - before["passedSeconds"] == 2 * 86400
    finally:
        chosen.close()
    monkeypatch.setenv("BLINK_DESKTOP_API_KEY", "the-key-123")
    assert upstream.basiq(load_settings(), "the-key-123").simulator is None

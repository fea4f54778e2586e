"""The app's wiring without a window: which upstream each mode uses."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from blink_desktop import upstream
from blink_desktop.app import wiring
from blink_desktop.errors import SettingsError
from blink_desktop.settings import load_settings


def test_no_api_key_means_the_embedded_emulator_with_state_beside_the_data(tmp_path: Path) -> None:
    built = wiring.build(load_settings())
    try:
        assert built.mode == "emulator"
        assert built.upstream is not None and built.upstream.emulated is True
        assert built.service.emulated is True
        assert built.service.blink_url == f"{built.upstream.api_url}/index.html"
        assert requests.get(f"{built.upstream.api_url}/index.html", timeout=10).ok
        assert (tmp_path / "data" / wiring.EMULATOR_STATE).exists()
        assert (tmp_path / "data" / wiring.DATABASE).exists()
    finally:
        built.close()


def test_a_url_without_a_key_is_a_settings_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BLINK_DESKTOP_API_URL", "https://au-api.basiq.io")
    with pytest.raises(SettingsError, match="BLINK_DESKTOP_API_KEY"):
        wiring.build(load_settings())


def test_real_basiq_settings_are_used_as_given(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BLINK_DESKTOP_API_KEY", "abc")
    built = wiring.build(load_settings())
    try:
        assert built.mode == "direct"
        assert built.upstream is not None and built.upstream.emulated is False
        assert built.upstream.api_url == "https://au-api.basiq.io"
        assert built.service.emulated is False
        assert built.service.blink_url == upstream.BASIQ_BLINK
        assert built.service.blink_origin == "https://js.basiq.io"
    finally:
        built.close()

"""Paths: the assets are found from a checkout."""

from __future__ import annotations

from blink_desktop import paths


def test_assets_are_found_from_a_checkout() -> None:
    assert (paths.assets_dir() / "emulator" / "institutions.json").is_file()

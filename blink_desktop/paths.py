"""Where blink-desktop finds its bundled files and keeps its own."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP_NAME = "blink-desktop"
CONFIG_ENV = "BLINK_DESKTOP_CONFIG"


def assets_dir() -> Path:
    """The web pages and emulator data, from a wheel, a PyInstaller bundle or a checkout."""
    here = Path(__file__).resolve().parent
    # A wheel and build.spec put assets inside the package; a source checkout has them beside it.
    for candidate in (here / "assets", here.parent / "assets"):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"blink-desktop's assets folder is missing (looked beside {here})")


def config_file() -> Path:
    """The optional TOML settings file; BLINK_DESKTOP_CONFIG points elsewhere."""
    override = os.environ.get(CONFIG_ENV)
    if override:
        return Path(override).expanduser()
    return default_config_file()


def default_config_file() -> Path:
    return platformdirs.user_config_path(APP_NAME) / "config.toml"


def default_data_dir() -> Path:
    return platformdirs.user_data_path(APP_NAME)


def default_log_dir() -> Path:
    return platformdirs.user_log_path(APP_NAME)

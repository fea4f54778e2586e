"""The desktop window: the host page, its bridge, and the navigation hooks, on pywebview."""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
from typing import Any

from blink_desktop import paths
from blink_desktop.app import navigation
from blink_desktop.app.blink_events import parse_scheme_url
from blink_desktop.app.bridge import Bridge
from blink_desktop.app.connect import ConnectService
from blink_desktop.app.wiring import build
from blink_desktop.errors import SettingsError
from blink_desktop.settings import Settings

log = logging.getLogger(__name__)


def run(settings: Settings, *, debug: bool = False) -> int:
    """Open the window and block until it closes."""
    qt = sys.platform.startswith("linux")
    if settings.transport == "scheme" and not qt:
        raise SettingsError(
            "BLINK_DESKTOP_TRANSPORT=scheme needs the Qt window, which blink-desktop uses on "
            "Linux; use the default transport, iframe, on this system."
        )
    _prepare_qt()
    import webview

    app = build(settings)
    try:
        bridge = Bridge(app.service, webview.token)
        window = webview.create_window(
            "blink-desktop",
            url=str(paths.assets_dir() / "desktop.html"),
            js_api=bridge,
            width=1040,
            height=760,
            min_size=(360, 520),
            background_color="#F6F7FB",
        )
        if window is None:
            raise SettingsError("The window could not be created.")
        if settings.transport == "scheme":
            _intercept_scheme(window, app.service)
        elif qt:
            navigation.guard_navigation()
        webview.start(
            gui="qt" if qt else None,
            debug=debug,
            icon=str(paths.assets_dir() / "icon.png"),  # the window's icon (GTK and Qt)
        )
    finally:
        app.close()
    return 0


def _prepare_qt() -> None:
    if sys.platform.startswith("linux"):
        os.environ.setdefault("PYWEBVIEW_GUI", "qt")
    # QtWebEngine refuses to start as root unless its sandbox is off.
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        os.environ.setdefault("QTWEBENGINE_DISABLE_SANDBOX", "1")


def _intercept_scheme(window: Any, service: ConnectService) -> None:
    """basiq://EVENT/JSON navigations go through the same validation and store as postMessage."""

    def on_url(url: str) -> None:
        try:
            event, payload = parse_scheme_url(url)
            data: Any = (
                {"event": event} if payload is None else {"event": event, "payload": payload}
            )
        except ValueError as exc:
            data = url[:2000]
            log.warning("unreadable basiq:// navigation: %s", exc)
        outcome = service.receive("basiq://", data).to_json()
        threading.Thread(
            target=window.evaluate_js,
            args=(f"window.desktop && window.desktop.onSchemeOutcome({json.dumps(outcome)})",),
            daemon=True,
        ).start()

    navigation.install(window, on_url)

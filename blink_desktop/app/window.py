"""The desktop window: the host page, its bridge, and the navigation hooks, on pywebview."""

from __future__ import annotations

import functools
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
        if qt:
            install_shortcuts(window)
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


# The window's own keys: each asks the page first ("escape", "close"), or quits.
SHORTCUTS = {"Escape": "escape", "Ctrl+W": "close", "Ctrl+Q": "quit"}


def install_shortcuts(window: Any) -> None:
    """Escape, Ctrl+W and Ctrl+Q for the whole window, wherever focus is (Qt).

    A key pressed while focus is inside Blink goes to Blink's cross-origin frame, and the host
    page never sees it; the window sees every key first. Escape closes the connect panel;
    Ctrl+W closes the panel if it is open, else the window; Ctrl+Q quits. The page says whether
    it did something (``window.desktop.shortcut``), asked without blocking the GUI thread.
    Call before ``webview.start()``.
    """

    def before_show() -> None:
        from qtpy.QtCore import Qt
        from qtpy.QtGui import QKeySequence, QShortcut  # type: ignore[attr-defined]
        from qtpy.QtWidgets import QApplication

        native: Any = window.native  # typed None by pywebview until the GUI sets it

        def press(action: str) -> None:
            if action == "quit":
                QApplication.closeAllWindows()  # the last window closed ends webview.start()
                return

            def answered(handled: object) -> None:
                if action == "close" and handled is not True:
                    native.close()

            script = f"window.desktop ? window.desktop.shortcut({json.dumps(action)}) : false"
            native.webview.page().runJavaScript(script, 0, answered)

        for keys, action in SHORTCUTS.items():
            shortcut = QShortcut(QKeySequence(keys), native)
            shortcut.setContext(Qt.ShortcutContext.WindowShortcut)
            shortcut.activated.connect(functools.partial(press, action))

    window.events.before_show += before_show

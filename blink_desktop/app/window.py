"""The desktop window: the host page, its bridge, and the navigation hooks, on pywebview."""

from __future__ import annotations

import functools
import json
import logging
import os
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from blink_desktop import paths
from blink_desktop.app import navigation
from blink_desktop.app.bridge import START_TIMEOUT, Bridge
from blink_desktop.app.launch import Launch
from blink_desktop.app.starting import Pending
from blink_desktop.errors import SettingsError

if TYPE_CHECKING:  # imported on the start-up thread (launch.py), while Qt starts on this one
    from blink_desktop.app.connect import ConnectService
    from blink_desktop.app.consent import ConsentFlow
    from blink_desktop.app.exports import Format
    from blink_desktop.settings import Settings

log = logging.getLogger(__name__)


def run(configure: Callable[[], Settings], *, debug: bool = False) -> int:
    """Open the window and block until it closes.

    The window comes up at once; the settings (`configure`), the store and the upstream are
    made meanwhile on another thread (see launch.py), and bridge calls wait for what they need.
    A start that fails is shown in the page, then raised here once the window has closed.
    """
    qt = sys.platform.startswith("linux")
    _prepare_qt()
    import webview

    launch = Launch(configure, check=functools.partial(_check, qt=qt))
    from blink_desktop.app.connection_page import ConnectionPages

    pages = ConnectionPages(launch.app)
    bridge = Bridge(launch.service, webview.token, first_screen=launch.first_screen, pages=pages)
    page = str(paths.assets_dir() / "desktop.html")
    window = webview.create_window(
        "blink-desktop",
        url=page,
        js_api=bridge,
        width=1040,
        height=760,
        min_size=(360, 520),
        background_color="#F6F7FB",
    )
    if window is None:
        raise SettingsError("The window could not be created.")
    pages.ask_where = functools.partial(_ask_where, window)
    if qt:
        install_shortcuts(window, home=page)
        # Before the settings are known, as PyQt looks the hook up once per page: every
        # non-web scheme is refused, and basiq:// is followed in the scheme transport only.
        navigation.install(
            window,
            functools.partial(_on_scheme_url, launch.service, window),
            ConsentReturn(launch.service, window, page),
        )
        navigation.bridge_for_own_page(window)
    # Started only now: the thread's imports would otherwise contend with Qt's for the GIL,
    # while from here Qt mostly runs outside Python.
    launch.start()
    try:
        webview.start(
            gui="qt" if qt else None,
            debug=debug,
            icon=str(paths.assets_dir() / "icon.png"),  # the window's icon (GTK and Qt)
        )
    finally:
        launch.close()
    return 0


def _check(settings: Settings, *, qt: bool) -> None:
    if settings.transport == "scheme" and not qt:
        raise SettingsError(
            "BLINK_DESKTOP_TRANSPORT=scheme needs the Qt window, which blink-desktop uses on "
            "Linux; use the default transport, iframe, on this system."
        )
    if settings.flow == "consent" and not qt:
        raise SettingsError(
            "BLINK_DESKTOP_FLOW=consent needs the Qt window, which blink-desktop uses on Linux "
            "(it catches the way back from the Consent UI); use the default flow, blink, here."
        )


class ConsentReturn:
    """The way back from Basiq's Consent UI (consent flow): the navigation to the redirect URL
    is refused before it loads, checked and recorded (consent.py), the window shows its own
    page again, and the jobs are read while it loads; the page then asks what came back."""

    def __init__(self, started: Pending[ConnectService], window: Any, page: str) -> None:
        self._started = started
        self._window = window
        self._page = page

    def _flow(self) -> ConsentFlow | None:
        if not self._started.done() or self._started.error() is not None:
            return None
        return self._started.result().consent

    def is_redirect(self, url: str) -> bool:
        flow = self._flow()
        return flow is not None and flow.is_redirect(url)

    def caught(self, url: str) -> None:
        flow = self._flow()
        if flow is None:
            return
        try:
            returned = flow.receive(url)
        finally:  # whatever came back, the person gets the window's own page again
            self._window.load_url(self._page)
        flow.settle(returned)


def _ask_where(window: Any, suggested: str, fmt: Format) -> Path | None:
    """The system's save dialog for an export (looked up at each call, so a test can stand in
    for the one dialog it cannot click)."""
    from blink_desktop.app import exports

    return exports.ask_where(window, suggested, fmt)


def _prepare_qt() -> None:
    if sys.platform.startswith("linux"):
        os.environ.setdefault("PYWEBVIEW_GUI", "qt")
    # QtWebEngine refuses to start as root unless its sandbox is off.
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        os.environ.setdefault("QTWEBENGINE_DISABLE_SANDBOX", "1")


def _on_scheme_url(started: Pending[ConnectService], window: Any, url: str) -> None:
    """basiq://EVENT/JSON navigations go through the same validation and store as postMessage."""
    ready = started.wait(START_TIMEOUT) and started.error() is None
    service = started.result() if ready else None
    if service is None or service.transport != "scheme":
        log.warning("refused a navigation to a %r URL", "basiq")
        return
    from blink_desktop.app.blink_events import parse_scheme_url

    try:
        event, payload = parse_scheme_url(url)
        data: Any = {"event": event} if payload is None else {"event": event, "payload": payload}
    except ValueError as exc:
        data = url[:2000]
        log.warning("unreadable basiq:// navigation: %s", exc)
    outcome = service.receive("basiq://", data).to_json()
    threading.Thread(
        target=window.evaluate_js,
        args=(f"window.desktop && window.desktop.onSchemeOutcome({json.dumps(outcome)})",),
        daemon=True,
    ).start()


# The window's own keys: each asks the page first ("escape", "close"), or quits.
SHORTCUTS = {"Escape": "escape", "Ctrl+W": "close", "Ctrl+Q": "quit"}


def install_shortcuts(window: Any, home: str | None = None) -> None:
    """Escape, Ctrl+W and Ctrl+Q for the whole window, wherever focus is (Qt).

    A key pressed while focus is inside Blink goes to Blink's cross-origin frame, and the host
    page never sees it; the window sees every key first. Escape closes the connect panel;
    Ctrl+W closes the panel if it is open, else the window; Ctrl+Q quits. The page says whether
    it did something (``window.desktop.shortcut``), asked without blocking the GUI thread.
    While the window shows another origin's page (the Consent UI, which may have no way back
    of its own, on an error say), Escape and Ctrl+W bring back `home`, the app's own page, as
    they close the panel. Call before ``webview.start()``.
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
            shown = native.webview.page().url().toString()
            if home is not None and not navigation.own_page(window, shown):
                log.info("left the page on another origin (%s) for the app's own", action)
                window.load_url(home)
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

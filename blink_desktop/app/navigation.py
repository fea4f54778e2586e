"""The window's navigation hooks: refuse non-web schemes, and catch ``basiq://`` URLs (Qt)."""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import webview

log = logging.getLogger(__name__)


# Navigations the page may make; any other scheme would go to the desktop's URL opener.
WEB_SCHEMES = frozenset({"http", "https", "about", "data", "blob", "file", "qrc"})


def install(window: webview.Window, on_url: Callable[[str], None]) -> None:
    """Deliver every ``basiq://`` navigation of a pywebview Qt window to ``on_url``.

    Call before ``webview.start()``. ``on_url`` runs on one worker thread, in the order the page
    navigated, never on the GUI thread. Navigations to other non-web schemes are refused, so a
    page cannot hand ``ssh:``, ``mailto:`` or any other URL to the desktop's opener.
    """
    urls: queue.SimpleQueue[str] = queue.SimpleQueue()

    def deliver() -> None:
        while True:
            url = urls.get()
            try:
                on_url(url)
            except Exception:
                log.exception("basiq:// handler failed for %s", url[:200])

    threading.Thread(target=deliver, name="basiq-scheme", daemon=True).start()
    guard_navigation(urls.put)

    def before_show() -> None:
        from qtpy.QtWebEngineCore import QWebEngineSettings

        # Without this Chromium drops script-initiated navigations to unknown schemes silently.
        native: Any = window.native  # typed None by pywebview until the GUI sets it
        native.webview.page().settings().setUnknownUrlSchemePolicy(
            QWebEngineSettings.UnknownUrlSchemePolicy.AllowAllUnknownUrlSchemes
        )

    window.events.before_show += before_show


def guard_navigation(on_basiq_url: Callable[[str], None] | None = None) -> None:
    """Refuse navigations to non-web schemes in every pywebview Qt page; hand basiq:// over.

    Must run before ``webview.start()``: PyQt looks a Python override up once per page.
    """
    from qtpy.QtWebEngineCore import QWebEnginePage
    from webview.platforms.qt import BrowserView

    base = QWebEnginePage.acceptNavigationRequest

    def accept(page: Any, url: Any, navigation_type: Any, is_main_frame: bool) -> bool:
        scheme = url.scheme().lower()
        if scheme == "basiq" and on_basiq_url is not None:
            on_basiq_url(url.toString())
            return False
        if scheme not in WEB_SCHEMES:
            log.warning("refused a navigation to a %r URL", scheme[:40])
            return False
        return bool(base(page, url, navigation_type, is_main_frame))

    # Assigning the method is pywebview's supported route; a WebPage subclass would recurse.
    BrowserView.WebPage.acceptNavigationRequest = accept  # type: ignore[method-assign]

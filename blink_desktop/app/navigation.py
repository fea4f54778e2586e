"""The window's navigation hooks: refuse non-web schemes, catch ``basiq://`` URLs, and catch
the way back from Basiq's Consent UI to the application's redirect URL (Qt)."""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from blink_desktop.app.origins import origin

if TYPE_CHECKING:
    import webview

log = logging.getLogger(__name__)


# Navigations the page may make; any other scheme would go to the desktop's URL opener.
WEB_SCHEMES = frozenset({"http", "https", "about", "data", "blob", "file", "qrc"})


def install(
    window: webview.Window,
    on_url: Callable[[str], None],
    redirect: Redirect | None = None,
) -> None:
    """Deliver every ``basiq://`` navigation of a pywebview Qt window to ``on_url``, and every
    main-frame navigation to the redirect URL (``redirect.is_redirect``) to ``redirect.caught``,
    refused before it loads.

    Call before ``webview.start()``. Each handler runs on a worker thread of its own, in the
    order the page navigated, never on the GUI thread. Navigations to other non-web schemes are
    refused, so a page cannot hand ``ssh:``, ``mailto:`` or any other URL to the desktop's
    opener.
    """
    on_redirect = None
    if redirect is not None:
        on_redirect = _worker("consent-redirect", redirect.caught)
    guard_navigation(
        _worker("basiq-scheme", on_url), on_redirect, redirect.is_redirect if redirect else None
    )

    def before_show() -> None:
        from qtpy.QtWebEngineCore import QWebEngineSettings

        # Without this Chromium drops script-initiated navigations to unknown schemes silently.
        native: Any = window.native  # typed None by pywebview until the GUI sets it
        native.webview.page().settings().setUnknownUrlSchemePolicy(
            QWebEngineSettings.UnknownUrlSchemePolicy.AllowAllUnknownUrlSchemes
        )

    window.events.before_show += before_show


def bridge_for_own_page(window: webview.Window) -> None:
    """Give pywebview's bridge, and its token, only to the app's own page (its origin).

    pywebview injects both into every page the window loads, a page the window goes to top
    level included: in the consent flow, Basiq's Consent UI, which must get neither. Call before
    ``webview.start()`` (pywebview connects the hook when it makes the window's view).
    """
    from webview.platforms.qt import BrowserView

    base: Any = BrowserView.on_load_finished

    def on_load_finished(view: Any, *args: Any) -> None:
        if not own_page(window, view.webview.page().url().toString()):
            log.debug("no bridge for a page on another origin")
            return
        base(view)

    BrowserView.on_load_finished = on_load_finished  # type: ignore[method-assign]


def own_page(window: webview.Window, url: str) -> bool:
    """Whether `url` is on the origin of the app's own page (the one the window was given)."""
    mine = origin(window.real_url or "")
    return mine != "null" and origin(url) == mine


class Redirect(Protocol):
    def is_redirect(self, url: str) -> bool:
        """Whether a main-frame navigation to `url` is the way back; quick (GUI thread)."""
        ...

    def caught(self, url: str) -> None:
        """Handle the way back, on a worker thread."""
        ...


def _worker(name: str, handle: Callable[[str], None]) -> Callable[[str], None]:
    """`handle` on a thread of its own, one URL at a time in order: the queue's `put`."""
    urls: queue.SimpleQueue[str] = queue.SimpleQueue()

    def deliver() -> None:
        while True:
            url = urls.get()
            try:
                handle(url)
            except Exception:
                log.exception("the %s handler failed", name)

    threading.Thread(target=deliver, name=name, daemon=True).start()
    return urls.put


def guard_navigation(
    on_basiq_url: Callable[[str], None] | None = None,
    on_redirect: Callable[[str], None] | None = None,
    is_redirect: Callable[[str], bool] | None = None,
) -> None:
    """Refuse navigations to non-web schemes in every pywebview Qt page; hand basiq:// over,
    and main-frame navigations that `is_redirect` to `on_redirect`.

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
        if is_main_frame and on_redirect is not None and is_redirect is not None:
            text = url.toString()
            if is_redirect(text):
                on_redirect(text)
                return False
        return bool(base(page, url, navigation_type, is_main_frame))

    # Assigning the method is pywebview's supported route; a WebPage subclass would recurse.
    BrowserView.WebPage.acceptNavigationRequest = accept  # type: ignore[method-assign]

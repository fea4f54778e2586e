"""Blink's ``basiq://<event>/<json>`` navigations: parse them, and catch them in a Qt window."""

from __future__ import annotations

import json
import logging
import queue
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

if TYPE_CHECKING:
    import webview

__all__ = ["EVENTS", "SCHEME", "install", "parse"]

SCHEME = "basiq"
EVENTS = frozenset({"handshake", "job", "connection", "cancellation", "completion"})
MAX_URL_LENGTH = 64 * 1024

log = logging.getLogger(__name__)


def parse(url: str) -> tuple[str, dict[str, Any] | None]:
    """Split a Blink navigation URL into its event name and JSON payload (None when absent)."""
    if not isinstance(url, str):
        raise ValueError(f"Blink URL must be a string, not {type(url).__name__}")
    if len(url) > MAX_URL_LENGTH:
        raise ValueError(f"Blink URL is {len(url)} characters long; the limit is {MAX_URL_LENGTH}")
    prefix = f"{SCHEME}://"
    if url[: len(prefix)].lower() != prefix:
        raise ValueError(f"not a {prefix} URL: {url[:80]!r}")
    event, _, raw = url[len(prefix) :].partition("/")
    event = unquote(event).lower()
    if event not in EVENTS:
        raise ValueError(f"unknown Blink event {event[:40]!r}; expected one of {sorted(EVENTS)}")
    if not raw:
        return event, None
    payload = _decode_json(raw)
    if not isinstance(payload, dict):
        raise ValueError(f"{event} payload must be a JSON object, got {type(payload).__name__}")
    return event, payload


def _decode_json(raw: str) -> Any:
    # Blink appends the JSON raw. Chromium percent-encodes it once, and QUrl encodes it all again
    # when the JSON holds a "%" that starts no escape. So: raw first (a literal "%41" in a JSON
    # string stays intact), then each further decoding; JSON never starts with "%", so the first
    # text that parses is the page's own.
    text = raw
    for _ in range(3):
        try:
            return json.loads(text, parse_constant=_reject_constant)
        except (ValueError, RecursionError) as exc:
            error = exc
        try:
            decoded = unquote(text, errors="strict")
        except UnicodeDecodeError:
            break
        if decoded == text:
            break
        text = decoded
    raise ValueError(f"Blink payload is not valid JSON ({error}): {raw[:80]!r}")


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


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
        if scheme == SCHEME and on_basiq_url is not None:
            on_basiq_url(url.toString())
            return False
        if scheme not in WEB_SCHEMES:
            log.warning("refused a navigation to a %r URL", scheme[:40])
            return False
        return bool(base(page, url, navigation_type, is_main_frame))

    # Assigning the method is pywebview's supported route; a WebPage subclass would recurse.
    BrowserView.WebPage.acceptNavigationRequest = accept  # type: ignore[method-assign]

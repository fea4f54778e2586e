"""window.pywebview.api: what the host page may ask of Python.

Every method takes the bridge token first (a cross-origin frame can reach the bridge on some
backends, but cannot read the page's token), returns JSON, and never raises: errors come back
as {"ok": false, "error": message, "retry": bool}.
"""

from __future__ import annotations

import functools
import hmac
import logging
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from blink_desktop.app.blink_events import EVENT_NAMES
from blink_desktop.app.connect import ConnectService
from blink_desktop.errors import ApiUnavailable, BlinkError, StoreError

log = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., dict[str, Any]])
REFUSED = {"ok": False, "error": "Refused: this call did not come from the app's own page."}


def _guarded(method: F) -> F:
    @functools.wraps(method)
    def wrapper(self: Bridge, token: object, *args: Any) -> dict[str, Any]:
        if not _same_token(token, self._token):
            log.warning("refused a bridge call to %s with a wrong token", method.__name__)
            return dict(REFUSED)
        try:
            return {"ok": True, **method(self, token, *args)}
        except (ApiUnavailable, StoreError) as exc:
            return {"ok": False, "error": str(exc), "retry": True}
        except BlinkError as exc:
            return {"ok": False, "error": str(exc), "retry": False}
        except Exception:
            log.exception("bridge call %s failed", method.__name__)
            return {
                "ok": False,
                "error": "Something went wrong inside blink-desktop; its log file has the details.",
                "retry": True,
            }

    return wrapper  # type: ignore[return-value]


def _same_token(offered: object, expected: str) -> bool:
    """Constant-time comparison that never raises, whatever the page sends."""
    if not isinstance(offered, str):
        return False
    return hmac.compare_digest(
        offered.encode("utf-8", "surrogatepass"), expected.encode("utf-8", "surrogatepass")
    )


class Bridge:
    def __init__(self, service: ConnectService, token: str) -> None:
        self._service = service
        self._token = token
        self._dropped = 0
        self._lock = threading.Lock()

    @_guarded
    def bootstrap(self, token: str) -> dict[str, Any]:
        service = self._service
        # The stored list at once; the page asks reconcile() next, so a slow or unreachable
        # Basiq never holds the window's first screen up.
        return {
            "mode": "emulator" if service.emulated else "basiq",
            "identifier": service.identifier(),
            "user_id": service.basiq_user_id(),
            "blink_origin": service.blink_origin,
            "transport": service.transport,
            "connections": service.connections(),
            "events": list(EVENT_NAMES),
        }

    @_guarded
    def reconcile(self, token: str) -> dict[str, Any]:
        """The user's connections at Basiq that the store lacked are adopted; the whole list."""
        return self._service.reconcile().to_json()

    @_guarded
    def set_identifier(self, token: str, identifier: object) -> dict[str, Any]:
        text = identifier if isinstance(identifier, str) else ""
        chosen = self._service.set_identifier(text)
        return {"identifier": chosen, "user_id": self._service.basiq_user_id()}

    @_guarded
    def start_connect(self, token: str, parent_origin: object = None) -> dict[str, Any]:
        origin = parent_origin if isinstance(parent_origin, str) else None
        session = self._service.start(origin)
        service = self._service
        return {
            "url": session.url,
            "blink_url": service.blink_url,
            "user_id": session.basiq_user_id,
            "access_token": session.token,
            "parent_origin": service.emulated and service.transport == "iframe",
        }

    @_guarded
    def receive(self, token: str, message: object) -> dict[str, Any]:
        if not isinstance(message, dict):
            message = {"origin": "", "data": message}
        origin = message.get("origin")
        return self._service.receive(
            origin if isinstance(origin, str) else "", message.get("data")
        ).to_json()

    @_guarded
    def progress(self, token: str, job_id: object) -> dict[str, Any]:
        if not isinstance(job_id, str):
            raise BlinkError("No connection attempt to follow.")
        return self._service.progress(job_id)

    @_guarded
    def connections(self, token: str) -> dict[str, Any]:
        return {"connections": self._service.connections()}

    @_guarded
    def dropped(self, token: str, origin: object = None) -> dict[str, Any]:
        """The page dropped a message from an unexpected origin or frame."""
        with self._lock:
            self._dropped += 1
            count = self._dropped
        log.warning("dropped a message from %r (%d so far)", str(origin)[:200], count)
        return {"dropped": count}

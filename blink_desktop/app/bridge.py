"""window.pywebview.api: what the host page may ask of Python.

Every method takes the bridge token first (a cross-origin frame can reach the bridge on some
backends, but cannot read the page's token), returns JSON, and never raises: errors come back
as {"ok": false, "error": message, "retry": bool}. The window is up before the app behind it
has started; each call waits for it, and an app that could not start answers with the reason.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from blink_desktop.app.compare import same_secret
from blink_desktop.app.starting import Awaited, Pending
from blink_desktop.errors import ApiUnavailable, BlinkError, StoreError

if TYPE_CHECKING:  # the window makes a bridge before it imports the app behind it
    from blink_desktop.app.connect import ConnectService, Session
    from blink_desktop.app.connection_page import ConnectionPages

log = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., dict[str, Any]])
REFUSED = {"ok": False, "error": "Refused: this call did not come from the app's own page."}
START_TIMEOUT = 60.0  # seconds a call waits for the app to start before it says so


def _guarded(method: F) -> F:
    @functools.wraps(method)
    def wrapper(self: Bridge, token: object, *args: Any) -> dict[str, Any]:
        if not same_secret(token, self._token):
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


class FirstScreen(Protocol):
    """What the window's first screen shows, known before the connect service is."""

    @property
    def transport(self) -> str: ...

    def identifier(self) -> str | None: ...

    def basiq_user_id(self) -> str | None: ...

    def connections(self) -> list[dict[str, Any]]: ...


class Bridge:
    def __init__(
        self,
        service: ConnectService | Pending[ConnectService],
        token: str,
        *,
        first_screen: Awaited[FirstScreen] | None = None,
        pages: ConnectionPages | None = None,
    ) -> None:
        """`service` may still be starting (see launch.py); `first_screen` answers
        `bootstrap` before it has; `pages` answers the connection page."""
        self._pending = service if isinstance(service, Pending) else Pending.of(service)
        self._first_screen = first_screen
        self._pages = pages
        self._token = token
        self._dropped = 0
        self._lock = threading.Lock()

    @property
    def _service(self) -> ConnectService:
        """The connect service, once started (waiting for it); else what stopped it."""
        try:
            return self._pending.result(START_TIMEOUT)
        except TimeoutError:
            raise ApiUnavailable("blink-desktop is still starting; try again.") from None

    def _mode(self) -> str | None:
        """Whether Blink is the emulator's or Basiq's, once the service knows (else None)."""
        if not self._pending.done() or self._pending.error() is not None:
            return None
        return "emulator" if self._service.emulated else "basiq"

    def _flow(self) -> str | None:
        """ "blink" or "consent", once the service knows (else None: ask consent_return)."""
        if not self._pending.done() or self._pending.error() is not None:
            return None
        return self._service.flow

    @_guarded
    def bootstrap(self, token: str) -> dict[str, Any]:
        from blink_desktop.app.blink_events import EVENT_NAMES

        # The stored list at once, without waiting for any upstream to start or answer: the
        # page asks reconcile() and prepare_connect() next. Where Blink is, and whether it is
        # the emulator's, come with their answers.
        screen: FirstScreen
        if self._pending.done() or self._first_screen is None:
            screen = self._service
        else:
            try:
                screen = self._first_screen.result(START_TIMEOUT)
            except TimeoutError:
                raise ApiUnavailable("blink-desktop is still starting; try again.") from None
        return {
            "mode": self._mode(),
            "flow": self._flow(),
            "identifier": screen.identifier(),
            "user_id": screen.basiq_user_id(),
            "transport": screen.transport,
            "connections": screen.connections(),
            "events": list(EVENT_NAMES),
        }

    @_guarded
    def reconcile(self, token: str) -> dict[str, Any]:
        """The user's connections at Basiq that the store lacked are adopted; the whole list."""
        return {**self._service.reconcile().to_json(), "mode": self._mode()}

    @_guarded
    def set_identifier(self, token: str, identifier: object) -> dict[str, Any]:
        text = identifier if isinstance(identifier, str) else ""
        chosen = self._service.set_identifier(text)
        return {
            "identifier": chosen,
            "user_id": self._service.basiq_user_id(),
            "mode": self._mode(),
        }

    @_guarded
    def prepare_connect(self, token: str, parent_origin: object = None) -> dict[str, Any]:
        """The next connect's Blink, to load ahead: valid for `fresh_ms`, then ask again."""
        origin = parent_origin if isinstance(parent_origin, str) else None
        service = self._service
        if service.consent is not None:  # no Blink to load: a token ahead for the Consent UI
            service.prefetch()
            return {"flow": service.flow, "fresh_ms": 0, "mode": self._mode()}
        session, fresh_for = service.prepare(origin)
        return {**self._session_json(session), "fresh_ms": max(int(fresh_for * 1000), 0)}

    @_guarded
    def start_consent(
        self, token: str, action: object = None, connection_id: object = None
    ) -> dict[str, Any]:
        """Basiq's Consent UI for the current person, at `url`, for the page to go to (top
        level: it refuses iframes). `action` is Basiq's (manage, update…); `connection_id`
        names the connection to log in again to."""
        flow = self._service.consent
        if flow is None:
            raise BlinkError("The Consent UI is off: set BLINK_DESKTOP_FLOW=consent to use it.")
        visit = flow.start(
            action if isinstance(action, str) else None,
            connection_id if isinstance(connection_id, str) and connection_id else None,
        )
        return {"url": visit.url, "action": visit.action, "mode": self._mode()}

    @_guarded
    def consent_return(self, token: str) -> dict[str, Any]:
        """The flow, and what the last way back from the Consent UI brought (null when nothing
        came back; by `id`, so the page shows it once): jobs to follow, a cancellation, the end
        of `manage`, a refusal."""
        service = self._service
        returned = service.consent.last_return(START_TIMEOUT) if service.consent else None
        return {
            "flow": service.flow,
            "returned": returned.to_json() if returned is not None else None,
            "mode": self._mode(),
        }

    @_guarded
    def start_connect(
        self,
        token: str,
        parent_origin: object = None,
        prepared: object = None,
        connection_id: object = None,
    ) -> dict[str, Any]:
        """Start a connect; on the session the page `prepared` (loaded ahead) if still valid.
        `replaced` says it was not, and the page must show Blink at this answer's URL.
        `connection_id`: Blink in update mode for that connection (Fix)."""
        origin = parent_origin if isinstance(parent_origin, str) else None
        wanted = prepared if isinstance(prepared, str) else None
        fixing = connection_id if isinstance(connection_id, str) and connection_id else None
        session = self._service.start(origin, wanted, fixing)
        replaced = wanted is not None and session.id != wanted
        return {**self._session_json(session), "replaced": replaced}

    def _session_json(self, session: Session) -> dict[str, Any]:
        service = self._service
        return {
            "session": session.id,
            "url": session.url,
            "blink_url": service.blink_url,
            "blink_origin": service.blink_origin,
            "user_id": session.basiq_user_id,
            "access_token": session.token,
            "parent_origin": service.emulated and service.transport == "iframe",
            "mode": self._mode(),
            "connection_id": session.connection_id,
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

    # The connection page (connection_page.py): one connection's data, refresh, delete,
    # export, and the Simulate menu on the emulator.
    def _page(self) -> ConnectionPages:
        if self._pages is None:
            raise BlinkError("This window has no connection pages.")
        return self._pages

    @_guarded
    def connection_page(self, token: str, connection_id: object = None) -> dict[str, Any]:
        return self._page().page(connection_id)

    @_guarded
    def connection_transactions(
        self, token: str, connection_id: object = None, limit: object = None
    ) -> dict[str, Any]:
        """Its transactions, newest first: all, or the newest `limit` (to show at once)."""
        return self._page().transactions(connection_id, limit)

    @_guarded
    def fetch_connection(self, token: str, connection_id: object = None) -> dict[str, Any]:
        return self._page().fetch(connection_id)

    @_guarded
    def refresh_connections(self, token: str, connection_id: object = None) -> dict[str, Any]:
        """One connection's refresh, or all of them for None; follow it with refresh_progress."""
        return self._page().refresh(connection_id)

    @_guarded
    def refresh_progress(self, token: str, task: object = None) -> dict[str, Any]:
        return self._page().progress(task)

    @_guarded
    def delete_connection(self, token: str, connection_id: object = None) -> dict[str, Any]:
        return self._page().delete(connection_id)

    @_guarded
    def export_transactions(
        self, token: str, connection_id: object = None, fmt: object = "csv"
    ) -> dict[str, Any]:
        """The save dialog, then the file: one connection's transactions, or all for None."""
        return self._page().export(connection_id, fmt)

    @_guarded
    def simulate(
        self, token: str, action: object = None, connection_id: object = None, days: object = None
    ) -> dict[str, Any]:
        return self._page().simulate(action, connection_id, days)

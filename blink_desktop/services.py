"""What the window asks for: who you are, a Blink URL to connect, each Blink message, progress.

Nothing here knows about pywebview; the bridge turns these calls into JSON for the page.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from dataclasses import asdict, dataclass, field
from typing import Any, Literal
from urllib.parse import urlencode

from blink_desktop.api_client import BasiqClient
from blink_desktop.errors import BlinkError
from blink_desktop.models import (
    Connection,
    Failed,
    Job,
    Rejected,
    StoredConnection,
    parse_event,
)
from blink_desktop.outbox import Outbox
from blink_desktop.providers import TokenProvider
from blink_desktop.store import Store

log = logging.getLogger(__name__)

Transport = Literal["iframe", "scheme"]
_IDENTIFIER = re.compile(r"^[^\s@]+@[^\s@]+\.[^\s@]+$|^\+?[0-9 ]{8,20}$")


@dataclass(frozen=True)
class Session:
    """One connect attempt: the Basiq user and the client token Blink was given."""

    basiq_user_id: str
    token: str
    url: str
    job_ids: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Outcome:
    accepted: bool
    event: str | None = None
    reason: str | None = None
    success: bool | None = None
    job_id: str | None = None
    connection: dict[str, Any] | None = None
    failure: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        return {key: value for key, value in asdict(self).items() if value is not None}


def connection_json(connection: StoredConnection) -> dict[str, Any]:
    return asdict(connection)


class ConnectService:
    def __init__(
        self,
        provider: TokenProvider,
        client: BasiqClient,
        store: Store,
        *,
        blink_url: str,
        blink_origin: str,
        transport: Transport = "iframe",
        identifier: str | None = None,
        emulated: bool = False,
        outbox: Outbox | None = None,
    ) -> None:
        self._provider = provider
        self._client = client
        self._store = store
        self.blink_url = blink_url
        self.blink_origin = blink_origin
        self.transport: Transport = transport
        self.emulated = emulated
        self._identifier = identifier
        self._session: Session | None = None
        self._lock = threading.Lock()
        self._outbox = outbox

    # who
    def identifier(self) -> str | None:
        return self._identifier or self._store.last_identifier()

    def set_identifier(self, identifier: str) -> str:
        """Validate, then find or create the Basiq user now, so it is remembered from here on."""
        identifier = identifier.strip()
        if not _IDENTIFIER.match(identifier):
            raise BlinkError(
                "Enter an email address (or a mobile number) to identify you to Basiq."
            )
        self._basiq_user(identifier)
        self._identifier = identifier
        return identifier

    def _basiq_user(self, identifier: str) -> str:
        basiq_user = self._store.basiq_user(identifier)
        if basiq_user is None:
            basiq_user = self._provider.basiq_user(identifier)
            self._store.remember_user(identifier, basiq_user)
        return basiq_user

    # connect
    def start(self, parent_origin: str | None = None) -> Session:
        identifier = self.identifier()
        if not identifier:
            raise BlinkError("Tell us who you are first: enter your email address.")
        basiq_user = self._basiq_user(identifier)
        token = self._provider.client_token(basiq_user)
        query = {"user_id": basiq_user, "access_token": token}
        if self.transport == "iframe":
            query["iframe"] = "true"
            if parent_origin and self.emulated:
                query["parent_origin"] = parent_origin
        session = Session(basiq_user, token, f"{self.blink_url}?{urlencode(query)}")
        with self._lock:
            self._session = session
        log.info("connect started for Basiq user %s", basiq_user)
        return session

    def receive(self, origin: str, data: Any) -> Outcome:
        """Validate one message from Blink, log it, and apply it; never raises for bad input."""
        raw = data if isinstance(data, str) else _dump(data)
        session = self._session
        try:
            event = parse_event(data)
        except Rejected as rejected:
            log.warning("rejected a message from %s: %s", origin, rejected)
            self._store.record(
                origin, raw[:65536], event=_name(data), accepted=False, reason=str(rejected)
            )
            return Outcome(accepted=False, reason=str(rejected))
        job_id = None
        if isinstance(event, Job) and event.payload.success:
            job_id = event.payload.data.id
            if session:
                session.job_ids.append(job_id)
        elif session and session.job_ids:
            job_id = session.job_ids[-1]
        stored = self._store.record(
            origin,
            raw,
            event=event.event,
            accepted=True,
            basiq_user_id=session.basiq_user_id if session else None,
            job_id=job_id,
            parsed=event,
            report=self._outbox is not None,
        )
        if self._outbox is not None and stored is not None:
            self._outbox.wake()
        if not isinstance(event, Job | Connection):
            return Outcome(accepted=True, event=event.event, job_id=job_id)
        failure = event.payload.data if isinstance(event.payload, Failed) else None
        return Outcome(
            accepted=True,
            event=event.event,
            success=event.payload.success,
            job_id=job_id,
            connection=connection_json(stored) if stored else None,
            failure=failure.model_dump(exclude_none=True) if failure is not None else None,
        )

    def progress(self, job_id: str) -> dict[str, Any]:
        """Where the job stands; Blink stops at verify-credentials, so the app follows the rest."""
        session = self._session
        if session is None or job_id not in session.job_ids:
            raise BlinkError("That connection attempt is not this window's; start a new one.")
        job = self._client.job(session.token, job_id)
        steps = [
            {"title": str(s.get("title")), "status": str(s.get("status"))}
            for s in job.get("steps", [])
        ]
        failed = any(s["status"] == "failed" for s in steps)
        done = failed or all(s["status"] in ("success", "skipped") for s in steps)
        connection_id = str(job.get("links", {}).get("source", "")).rsplit("/", 1)[-1]
        if done and connection_id and self._store.connection(connection_id):
            self._store.set_status(connection_id, "failed" if failed else "active", "job")
            if not failed:
                self._describe(session, connection_id)
        return {"steps": steps, "done": done, "failed": failed}

    def _describe(self, session: Session, connection_id: str) -> None:
        """Best effort: name the bank in the list once the job is done."""
        try:
            connection = self._client.connection(
                session.token, session.basiq_user_id, connection_id
            )
            institution_id = str(connection["institution"]["id"])
            institution = self._client.institution(session.token, institution_id)
            self._store.set_institution(
                connection_id,
                str(institution.get("shortName") or institution.get("name") or institution_id),
                str(institution.get("logo", {}).get("links", {}).get("square") or ""),
            )
        except (BlinkError, KeyError, TypeError) as exc:
            log.info("could not name the bank of connection %s: %s", connection_id, exc)

    def connections(self) -> list[dict[str, Any]]:
        return [connection_json(item) for item in self._store.connections()]


def _dump(data: Any) -> str:
    try:
        return json.dumps(data)
    except (TypeError, ValueError):
        return repr(data)


def _name(data: Any) -> str | None:
    if isinstance(data, dict):
        name = data.get("event")
        return str(name)[:40] if name is not None else None
    return None

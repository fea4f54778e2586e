"""The connect service: who you are, a Blink URL to connect, each Blink message, progress.

It decides what each message means and writes it through the store in one transaction.
Nothing here knows about pywebview; the bridge turns these calls into JSON for the page.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol
from urllib.parse import urlencode

from blink_desktop.app.blink_events import (
    Cancellation,
    Completion,
    Connection,
    Event,
    Failed,
    Failure,
    Job,
    Rejected,
    as_text,
    parse_event,
)
from blink_desktop.app.found import Finder, ServerAccess
from blink_desktop.app.outbox import Outbox
from blink_desktop.app.prefetch import SYSTEM_CLOCKS, Ticket, Tickets
from blink_desktop.app.store import Store, StoredConnection, storable
from blink_desktop.basiq.client import BasiqClient
from blink_desktop.basiq.identifiers import Identifier
from blink_desktop.basiq.models import Token
from blink_desktop.errors import ApiError, BlinkError, StoreError, UserUnknown

if TYPE_CHECKING:
    from blink_desktop.app.consent import ConsentFlow

log = logging.getLogger(__name__)

Transport = Literal["iframe", "scheme"]


class TokenProvider(Protocol):
    """The server role: basiq/keyholder.KeyHolder with the key, or app/backend.py's client."""

    def basiq_user(self, identifier: str) -> str:
        """The Basiq user id for this person, created on first use."""
        ...

    def issue_client_token(self, basiq_user_id: str) -> Token:
        """A new CLIENT_ACCESS token for Blink, with its lifetime."""
        ...


@dataclass(frozen=True)
class Session:
    """One connect attempt: the Basiq user and the client token Blink was given."""

    basiq_user_id: str
    token: str
    url: str
    job_ids: list[str] = field(default_factory=list)
    id: str = ""  # its ticket's (prefetch.py), by which the page claims one it preloaded
    via: str = "Blink"  # what the person connects in: Blink, or the Consent UI (consent.py)
    connection_id: str | None = None  # Blink's update mode: log in again to this connection


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


@dataclass(frozen=True)
class Reconciled:
    connections: list[dict[str, Any]]
    found: list[str]  # ids of the connections Basiq has and the store lacked until now
    reconciled: bool  # False when Basiq was not asked (backend mode, no user) or failed

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


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
        clocks: Sequence[Callable[[], float]] = SYSTEM_CLOCKS,
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
        self._jobs: dict[str, Session] = {}  # every job of this window, to the attempt it is of
        self._lock = threading.Lock()
        self._outbox = outbox
        self._finder = Finder(client, store, outbox)
        self._tickets = Tickets(self._issue, clocks)
        self._users = threading.Lock()  # one Basiq user per person, however many threads ask
        self.consent: ConsentFlow | None = None  # the consent flow's, when it is on (wiring.py)

    @property
    def flow(self) -> str:
        """How a bank is connected: "blink", or "consent" (Basiq 3.0's Consent UI)."""
        return "blink" if self.consent is None else "consent"

    def close(self) -> None:
        self._tickets.close()

    def forget_tokens(self) -> None:
        """Drop the client tokens made ahead: the emulator just expired them (Simulate), which
        their own lifetimes cannot tell. The next connect gets a new one."""
        self._tickets.forget()

    # who
    def identifier(self) -> str | None:
        return self._identifier or self._store.last_identifier()

    def set_identifier(self, identifier: str) -> str:
        """Validate, then find or create the Basiq user now, so it is remembered from here on."""
        try:
            identifier = Identifier.parse(identifier).value
        except ValueError as exc:
            raise BlinkError(str(exc)) from None
        basiq_user = self._basiq_user(identifier)
        self._identifier = identifier
        log.info("identity set: Basiq user %s", basiq_user)
        return identifier

    def basiq_user_id(self) -> str | None:
        """The current person's Basiq user id, once known (no call to Basiq)."""
        identifier = self.identifier()
        return self._store.basiq_user(identifier) if identifier else None

    def _basiq_user(self, identifier: str, *, again: bool = False) -> str:
        """The person's Basiq user: remembered, or asked for and remembered (`again`: asked
        for even when remembered, replacing it)."""
        with self._users:
            basiq_user = None if again else self._store.basiq_user(identifier)
            if basiq_user is None:
                basiq_user = self._provider.basiq_user(identifier)
                with self._store.writing("who you are") as tx:
                    tx.remember_user(identifier, basiq_user)
            return basiq_user

    def _who(self) -> str:
        identifier = self.identifier()
        if not identifier:
            raise BlinkError("Tell us who you are first: enter your email address.")
        return identifier

    # connect
    def prefetch(self) -> None:
        """Fetch the person's Basiq user and a client token now, for the next connect."""
        identifier = self.identifier()
        if identifier:
            try:
                self._tickets.prefetch(identifier)
            except BlinkError as exc:
                log.info("could not fetch a client token ahead; the connect will ask: %s", exc)

    def prepare(self, parent_origin: str | None = None) -> tuple[Session, float]:
        """The next connect's session, made ahead, and for how many seconds it may be used."""
        tickets = self._tickets
        ticket = tickets.ahead(self._who())
        return self._session_of(ticket, parent_origin), ticket.fresh_for(tickets.now())

    def start(
        self,
        parent_origin: str | None = None,
        prepared: str | None = None,
        connection_id: str | None = None,
    ) -> Session:
        """Start a connect: on the session `prepared` if it may still be used, else on the one
        fetched ahead if it may, else on a new one. No session serves two connects.

        With `connection_id` (one of this person's stored connections), Blink opens in update
        mode: the person logs in to that bank again (Fix, for an `invalid` connection)."""
        who = self._who()
        if connection_id is not None:
            stored = self._store.connection(connection_id)
            if stored is None or stored.user_id != self.basiq_user_id():
                raise BlinkError("That connection is not one of yours; it cannot be fixed here.")
        ticket = self._tickets.take(who, None if connection_id else prepared)
        session = self._session_of(ticket, parent_origin, connection_id)
        with self._lock:
            self._session = session
        log.info("connect started for Basiq user %s", session.basiq_user_id)
        return session

    def _issue(self, identifier: str, issued: tuple[float, ...]) -> Ticket:
        basiq_user = self._basiq_user(identifier)
        try:
            token = self._provider.issue_client_token(basiq_user)
        except UserUnknown:
            # Your server forgot the person (its database rebuilt, a new client id): ask it
            # again, once, rather than stay stuck on an id it no longer answers for.
            basiq_user = self._basiq_user(identifier, again=True)
            log.warning("your server no longer knew this person; it gave Basiq user %s", basiq_user)
            token = self._provider.issue_client_token(basiq_user)
        return Ticket(identifier, basiq_user, token.access_token, token.expires_in, issued)

    def _session_of(
        self, ticket: Ticket, parent_origin: str | None, connection_id: str | None = None
    ) -> Session:
        query = {"user_id": ticket.basiq_user_id, "access_token": ticket.token}
        if connection_id:
            query["connection_id"] = connection_id
        if self.transport == "iframe":
            query["iframe"] = "true"
            if parent_origin and self.emulated:
                query["parent_origin"] = parent_origin
        url = f"{self.blink_url}?{urlencode(query)}"
        return Session(
            ticket.basiq_user_id, ticket.token, url, id=ticket.id, connection_id=connection_id
        )

    def receive(self, origin: str, data: Any) -> Outcome:
        """Validate one message from Blink, log it, and apply it; never raises for bad input."""
        raw = as_text(data)
        session = self._session
        try:
            event = parse_event(data)
        except Rejected as rejected:
            log.warning("rejected a message from %s: %s", origin, rejected)
            with self._store.writing("the event") as tx:
                tx.log_event(origin, raw, event=_name(data), accepted=False, reason=str(rejected))
            return Outcome(accepted=False, reason=str(rejected))
        job_id = None
        if isinstance(event, Job) and event.payload.success:
            job_id = event.payload.data.id
            if session:
                session.job_ids.append(job_id)
                self._jobs[job_id] = session
        elif session and session.job_ids:
            job_id = session.job_ids[-1]
        connected = (
            event.payload.data.id
            if isinstance(event, Connection) and event.payload.success
            else None
        )
        user_id = session.basiq_user_id if session else ""
        reporting = self._outbox is not None and connected is not None and bool(user_id)
        with self._store.writing("the event") as tx:
            tx.log_event(origin, raw, event=event.event, accepted=True, job_id=job_id)
            if connected is not None:
                tx.upsert_connection(connected, user_id, job_id)
                if reporting:
                    tx.enqueue_report(connected, user_id)
        if reporting and self._outbox is not None:
            self._outbox.wake()
        stored = self._store.connection(connected) if connected else None
        _log_outcome(event, job_id, stored)
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

    def follow(self, session: Session, job_ids: Sequence[str]) -> None:
        """Jobs started outside Blink on this session (the Consent UI's), for `progress`."""
        with self._lock:
            for job_id in job_ids:
                if job_id not in session.job_ids:
                    session.job_ids.append(job_id)
                self._jobs[job_id] = session

    def progress(self, job_id: str) -> dict[str, Any]:
        """Where the job stands; Blink stops at verify-credentials, so the app follows the rest.

        A connection the job made that the store lacks (Blink was closed before it said
        `connection`) is adopted here, and marked as found in the event log.
        """
        # Any attempt of this window, not only the latest: a job followed after its panel was
        # closed goes on being followed when the person opens a new one.
        session = self._jobs.get(job_id)
        if session is None:
            raise BlinkError("That connection attempt is not this window's; start a new one.")
        job = self._client.job(session.token, job_id)
        connection_id = job.connection_id
        made = connection_id if job.verified else None  # the connection exists at Basiq
        found = made is not None and self._finder.adopt(
            session.basiq_user_id,
            made,
            job_id=job_id,
            status="connected",
            reason=f"found by following job {job_id}: Blink never reported this connection"
            if session.via == "Blink"
            else f"connected in {session.via} (job {job_id})",
        )
        if job.done and connection_id:
            self._finder.settle(session.token, session.basiq_user_id, connection_id, job)
        elif made:  # the bank's name in the list while its data is being retrieved
            self._finder.name_early(session.token, session.basiq_user_id, made)
        steps = [{"title": step.title, "status": step.status} for step in job.steps]
        failure = job.failure()
        return {
            "steps": steps,
            "done": job.done,
            "failed": job.failed,
            "failure": failure.model_dump(exclude_none=True) if failure is not None else None,
            "connection_id": made,
            "found": found,
        }

    @property
    def lists_connections(self) -> bool:
        """Whether `reconcile` can ask Basiq (not in backend mode: your server holds the key)."""
        return isinstance(self._provider, ServerAccess)

    def reconcile(self) -> Reconciled:
        """Adopt the connections Basiq lists for this person and the store lacks; name the
        stored ones nobody has named. Basiq failing leaves the stored list as it is."""
        identifier = self.identifier()
        user_id = self._store.basiq_user(identifier) if identifier else None
        provider = self._provider
        if user_id is None or not isinstance(provider, ServerAccess):
            return Reconciled(self.connections(), [], reconciled=False)
        try:
            found = self._finder.reconcile(provider, user_id)
        except (ApiError, StoreError) as exc:
            log.warning(
                "could not check your connections at Basiq; showing the stored list: %s", exc
            )
            return Reconciled(self.connections(), [], reconciled=False)
        return Reconciled(self.connections(), found, reconciled=True)

    def connections(self) -> list[dict[str, Any]]:
        return [connection_json(item) for item in self._store.connections()]


def _log_outcome(event: Event, job_id: str | None, stored: StoredConnection | None) -> None:
    """One line at INFO for each thing Blink says happened; the handshake at DEBUG."""
    if isinstance(event, Job | Connection):
        payload = event.payload
        if isinstance(payload, Failed):
            failure = payload.data or Failure()
            why = ": ".join(_said(part) for part in (failure.code, failure.title) if part)
            what = "could not start" if isinstance(event, Job) else "failed"
            log.info("Blink: connecting %s: %s", what, why or "no reason given")
        elif isinstance(event, Job):
            log.info("Blink: job %s started", job_id)
        else:
            bank = payload.data.institutionName or (stored.institution if stored else None)
            at = f" at {_said(bank)}" if bank else ""  # Blink's `connection` carries only the id
            log.info("Blink: connected %s%s", payload.data.id, at)
    elif isinstance(event, Cancellation):
        log.info("Blink: cancelled%s", f" after job {job_id}" if job_id else "")
    elif isinstance(event, Completion):
        log.info("Blink: completed")
    else:
        log.debug("Blink: %s", event.event)


_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")


def _said(text: str) -> str:
    """What a message says, as one log line: no line breaks or controls, capped, encodable."""
    return storable(_CONTROLS.sub(" ", text).strip(), 200)


def _name(data: Any) -> str | None:
    if isinstance(data, dict):
        name = data.get("event")
        return str(name)[:40] if name is not None else None
    return None

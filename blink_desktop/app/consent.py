"""Basiq 3.0's Consent UI flow: the visit's URL, and what the redirect back brings.

The Consent UI refuses iframes, so the window goes to it top-level, with a client token bound to
the person's Basiq user and a fresh random `state`. It sends the person back to the
application's redirect URL, which the window catches before it loads (navigation.py) and hands
here on a worker thread: `receive` checks the state in constant time and records the redirect
in the event log like a Blink message; the window then shows its own page again, and `settle`
follows the jobs the redirect named with the connect service's own job-following (which stores
each connection a job made, with its method), or lists the user's connections at Basiq when the
jobs cannot be read; after `manage`, where the app cannot list them (backend mode), it checks
each stored one instead. The page asks `last_return` what came of it, and shows each once (by
its `id`): a bridge call that the page before made late may get it too.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import parse_qs, urlencode, urlsplit

from blink_desktop import upstream
from blink_desktop.app.compare import same_secret
from blink_desktop.app.found import record_removed
from blink_desktop.app.origins import origin
from blink_desktop.app.starting import Pending
from blink_desktop.errors import ApiError, BlinkError, NotFound, SettingsError, StoreError

if TYPE_CHECKING:
    from blink_desktop.app.connect import ConnectService, Session
    from blink_desktop.app.store import Store
    from blink_desktop.basiq.client import BasiqClient
    from blink_desktop.settings import Settings

log = logging.getLogger(__name__)

# Basiq's `action` values [consent-actions.md]; none (or "null") means consent, then connect.
ACTIONS = frozenset({"connect", "manage", "extend", "update", "reauthorise"})
# Those a `connectionId` goes with: it logs in again to a web connection or reauthorises an
# open-banking one [consent-parameters.md]. `update` is the consent's (new scopes may revoke it
# and delete its connections), never a connection's password.
WITH_CONNECTION = frozenset({None, "connect", "reauthorise"})
VIA = "the Consent UI"
MAX_JOBS = 20  # one visit's connections; more is not a redirect the Consent UI sends
MAX_RECORDED = 4000  # characters of the redirect URL the event log keeps
REMOVED = "removed: Basiq no longer has it (deleted or revoked in the Consent UI's manage)"
_ID = re.compile(r"[A-Za-z0-9_-]{1,128}")
_DEFAULT_PORTS = {"http": 80, "https": 443}

Kind = Literal["jobs", "cancelled", "managed", "refused"]


def redirect_url(settings: Settings, *, emulated: bool) -> str:
    """BLINK_DESKTOP_REDIRECT_URL; in emulator mode the app's own choice when unset."""
    if emulated:
        return upstream.emulated_redirect_url(settings) or upstream.EMULATED_REDIRECT
    if settings.redirect_url is not None:
        return str(settings.redirect_url)
    raise SettingsError(
        "BLINK_DESKTOP_FLOW=consent needs BLINK_DESKTOP_REDIRECT_URL: your application's "
        "redirect URL exactly as set in Basiq's dashboard (e.g. "
        "https://app.example.com/basiq/return). The window catches the way back to it, so "
        "nothing needs to answer there."
    )


@dataclass(frozen=True)
class Visit:
    """One trip to the Consent UI: the session it runs on and the state it must bring back."""

    session: Session
    state: str
    action: str | None
    connection_id: str | None
    url: str


@dataclass(frozen=True)
class Returned:
    """What a redirect back brought, for the page: jobs to follow (`job_ids`), a cancellation,
    the end of a `manage` visit, or a refusal (`reason`). `connections`: what the jobs made.
    `unreadable` jobs were looked for by listing the user's connections at Basiq instead,
    which `found`. `connection_id`: the connection a Fix visit was for, whose page the window
    goes back to (its own page was unloaded for the visit)."""

    kind: Kind
    action: str | None = None
    job_ids: tuple[str, ...] = ()
    unreadable: tuple[str, ...] = ()
    found: tuple[str, ...] = ()
    reason: str | None = None
    connections: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()  # what `manage` deleted, where the page cannot list at Basiq
    connection_id: str | None = None  # the connection the visit was to fix (`connectionId`)
    id: str = field(default_factory=lambda: secrets.token_hex(8))  # the page shows each once

    def to_json(self) -> dict[str, Any]:
        return {
            key: list(value) if isinstance(value, tuple) else value
            for key, value in asdict(self).items()
        }


class ConsentFlow:
    def __init__(
        self,
        service: ConnectService,
        store: Store,
        client: BasiqClient,
        *,
        consent_url: str,
        redirect_url: str,
    ) -> None:
        self._service = service
        self._store = store
        self._client = client  # Basiq itself, with the visit's client token
        self.consent_url = consent_url
        self.redirect_url = redirect_url
        self._target = _where(redirect_url)
        self._lock = threading.Lock()
        self._visit: Visit | None = None
        self._managed: Session | None = None  # the last `manage` visit's, until settled
        self._returned: Pending[Returned] | None = None

    def start(self, action: str | None = None, connection_id: str | None = None) -> Visit:
        """A new visit (replacing any earlier one, whose state no longer counts): its URL."""
        action = None if action in (None, "", "null") else action
        if action is not None and action not in ACTIONS:
            raise BlinkError(f"The Consent UI has no action {str(action)[:40]!r}.")
        if connection_id is not None and not _ID.fullmatch(connection_id):
            raise BlinkError("That is not a connection id.")
        if connection_id is not None and action not in WITH_CONNECTION:
            raise BlinkError(
                f"The Consent UI's {action} action takes no connection: log in to a bank again "
                "with the connect action."
            )
        # The service refuses a Fix of a connection that is not this person's, as in Blink.
        session = replace(self._service.start(connection_id=connection_id), via=VIA)
        state = secrets.token_urlsafe(24)
        query = {"token": session.token, "userId": session.basiq_user_id, "state": state}
        if action is not None:
            query["action"] = action
        if connection_id is not None:
            query["connectionId"] = connection_id
        joiner = "&" if urlsplit(self.consent_url).query else "?"
        url = f"{self.consent_url}{joiner}{urlencode(query)}"
        visit = Visit(session, state, action, connection_id, url)
        with self._lock:
            self._visit = visit
        log.info("Consent UI visit started (%s)", action or "consent, then connect")
        return visit

    def is_redirect(self, url: str) -> bool:
        """Whether a navigation goes to the redirect URL: same scheme, host, port and path.
        Quick and side-effect free: the GUI thread asks it for every navigation."""
        try:
            return _where(url) == self._target
        except ValueError:
            return False

    def receive(self, url: str) -> Returned:
        """Check the redirect's state and record it; register the jobs it names for `settle`.

        A state that is absent or not the visit's is refused, logged and recorded as rejected,
        and nothing else is stored. A state counts once.
        """
        pending: Pending[Returned] = Pending()
        with self._lock:
            self._returned = pending
        with _failing(pending):
            return self._receive(url, pending)

    def _receive(self, url: str, pending: Pending[Returned]) -> Returned:
        query = parse_qs(urlsplit(url).query, keep_blank_values=True)
        states = query.get("state") or []
        state = states[-1] if states else None
        with self._lock:
            visit = self._visit
            matched = visit is not None and state is not None and same_secret(state, visit.state)
            if matched:
                self._visit = None
        raw = json.dumps({"event": "redirect", "url": url[:MAX_RECORDED]})
        site = origin(self.redirect_url)
        if not matched or visit is None:
            reason = (
                "no Consent UI visit is under way"
                if visit is None
                else "the redirect has no state"
                if state is None
                else "its state is not the one this window sent"
            )
            log.warning("refused a redirect from the Consent UI: %s", reason)
            self._record(site, raw, accepted=False, reason=reason, job_id=None)
            return self._finish(pending, Returned("refused", reason=reason))
        job_ids, malformed = _jobs(query)
        kind: Kind = (
            "jobs"
            if job_ids or malformed
            else ("managed" if visit.action == "manage" else "cancelled")
        )
        said = {
            "cancelled": "no jobs: the person left (a cancellation)",
            "managed": "back from manage",
        }
        first = job_ids[0] if job_ids else None
        self._record(site, raw, accepted=True, reason=said.get(kind), job_id=first)
        self._service.follow(visit.session, job_ids)
        if kind == "jobs":
            log.info("Consent UI: back with %d job(s)", len(job_ids) + len(malformed))
            return Returned(
                kind,
                visit.action,
                tuple(job_ids),
                tuple(malformed),
                connection_id=visit.connection_id,
            )
        log.info("Consent UI: back with no jobs (%s)", kind)
        if kind == "managed":
            with self._lock:
                self._managed = visit.session
            return Returned(kind, visit.action)
        return self._finish(
            pending, Returned(kind, visit.action, connection_id=visit.connection_id)
        )

    def settle(self, returned: Returned) -> Returned:
        """Read each job once through the connect service's job-following, which stores the
        connection a job made; when any cannot be read, list the user's connections at Basiq
        and store the new ones instead. What the page then follows."""
        with self._lock:
            pending = self._returned
            managed, self._managed = self._managed, None
        if pending is None or pending.done():
            return returned
        with _failing(pending):
            return self._settle(returned, pending, managed)

    def _settle(
        self, returned: Returned, pending: Pending[Returned], managed: Session | None
    ) -> Returned:
        if returned.kind == "managed" and managed is not None:
            return self._finish(pending, replace(returned, removed=self._after_manage(managed)))
        if returned.kind != "jobs":
            return self._finish(pending, returned)
        readable: list[str] = []
        unreadable = list(returned.unreadable)
        made: list[str] = []
        for job_id in returned.job_ids:
            try:
                progress = self._service.progress(job_id)
            except (ApiError, BlinkError, StoreError) as exc:
                log.info("could not read job %s named by the Consent UI: %s", job_id, exc)
                unreadable.append(job_id)
            else:
                readable.append(job_id)
                if progress["connection_id"]:
                    made.append(str(progress["connection_id"]))
        found: tuple[str, ...] = ()
        if unreadable:
            found = tuple(self._service.reconcile().found)
        settled = replace(
            returned,
            job_ids=tuple(readable),
            unreadable=tuple(unreadable),
            found=found,
            connections=tuple(made),
        )
        return self._finish(pending, settled)

    def _after_manage(self, session: Session) -> tuple[str, ...]:
        """What `manage` deleted or revoked leaves the list. The page lists the user's
        connections at Basiq when it comes back; where the app cannot (backend mode: your server
        holds the key), each stored one is read with the visit's client token here, and one
        Basiq no longer has (404) is dropped. Any other answer drops nothing."""
        if self._service.lists_connections:
            return ()
        user_id = session.basiq_user_id
        gone: list[str] = []
        for row in self._store.connections():
            if row.user_id != user_id:
                continue
            try:
                self._client.connection(session.token, user_id, row.id)
            except NotFound:
                gone.append(row.id)
            except ApiError as exc:
                log.info("could not check connection %s after manage: %s", row.id, exc)
        record_removed(self._store, gone, REMOVED)
        return tuple(gone)

    def last_return(self, timeout: float) -> Returned | None:
        """What the last redirect brought, once settled (waiting up to `timeout` seconds);
        None when nothing came back yet."""
        with self._lock:
            pending = self._returned
        if pending is None or not pending.wait(timeout):
            return None
        return pending.result()

    def _record(
        self, origin: str, raw: str, *, accepted: bool, reason: str | None, job_id: str | None
    ) -> None:
        with self._store.writing("the Consent UI's redirect") as tx:
            tx.log_event(
                origin, raw, event="redirect", accepted=accepted, reason=reason, job_id=job_id
            )

    def _finish(self, pending: Pending[Returned], returned: Returned) -> Returned:
        pending.set(returned)
        return returned


@contextmanager
def _failing(pending: Pending[Returned]) -> Iterator[None]:
    """A way back that fails (the store full, say) fails its `last_return` with the same
    error, rather than leaving the page to wait for it."""
    try:
        yield
    except BaseException as exc:
        if not pending.done():
            pending.fail(exc)
        raise


def _jobs(query: dict[str, list[str]]) -> tuple[list[str], list[str]]:
    """The job ids of `jobIds` (comma-separated) and `jobId`, in order, once each; and the
    parts that are no job id."""
    parts = [part.strip() for value in query.get("jobIds", []) for part in value.split(",")]
    parts += [value.strip() for value in query.get("jobId", [])]
    good: list[str] = []
    bad: list[str] = []
    for part in parts:
        if not part or part in good or part in bad:
            continue
        (good if _ID.fullmatch(part) else bad).append(part[:128])
    return good[:MAX_JOBS], bad[:MAX_JOBS]


def _where(url: str) -> tuple[str, str, int | None, str]:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    port = parts.port or _DEFAULT_PORTS.get(scheme)
    return scheme, (parts.hostname or "").lower(), port, parts.path or "/"

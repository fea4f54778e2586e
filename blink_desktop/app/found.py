"""What the app learns from Basiq itself, beyond what Blink says.

Blink reports a connection only while its panel is open, and only up to verify-credentials. So
the connect service follows each job to its end, adopts a connection the store lacks (closing
Blink early loses none), and reconciles with the user's connections at Basiq. Each connection
is named by what stays true: its bank's id and name, the bank's logo as a data: URL fetched
once, and its accounts' names with masked numbers.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from typing import Protocol, runtime_checkable

from blink_desktop.app.outbox import Outbox
from blink_desktop.app.store import Store, now
from blink_desktop.basiq import models as basiq
from blink_desktop.basiq.client import BasiqClient
from blink_desktop.errors import ApiError, StoreError

log = logging.getLogger(__name__)

FOUND = "blink-desktop"  # the origin of the event rows the app writes itself
# Basiq's connection status, as the app's list says it.
# Basiq's `invalid` stays so: the connection exists and needs its login again (Fix).
STATUSES = {"pending": "connected", "active": "active", "invalid": "invalid"}
GONE = "removed: Basiq no longer lists it (deleted, or its consent revoked)"


def record_removed(store: Store, connection_ids: Iterable[str], reason: str) -> None:
    """Forget connections Basiq no longer has, each with a line in the event log saying why."""
    for connection_id in connection_ids:
        raw = json.dumps({"event": "removed", "connection": connection_id})
        with store.writing("the removal of a connection") as tx:
            tx.remove_connection(connection_id)
            tx.log_event(FOUND, raw, event="removed", accepted=True, reason=reason)
        log.info("connection %s %s", connection_id, reason)


@runtime_checkable
class ServerAccess(Protocol):
    """What only a SERVER_ACCESS token may do. KeyHolder can (emulator and direct modes); in
    backend mode that token stays on your server, which has no endpoint for this yet."""

    def server_token(self) -> str: ...

    def connections(self, basiq_user_id: str) -> list[basiq.Connection]: ...


class Finder:
    def __init__(self, client: BasiqClient, store: Store, outbox: Outbox | None) -> None:
        self._client = client
        self._store = store
        self._outbox = outbox
        self._institutions: dict[str, basiq.Institution] = {}

    def reconcile(self, access: ServerAccess, user_id: str) -> list[str]:
        """Adopt what Basiq lists and the store lacks; drop what it no longer lists (deleted
        or revoked elsewhere: the Consent UI's manage); catch up on the rest. The found ids.

        Raises ApiError when Basiq cannot list the connections, and then drops nothing; a
        connection that cannot be named is only logged.
        """
        asked = now()
        listed = access.connections(user_id)
        self._drop_unlisted(user_id, {item.id for item in listed}, asked)
        reason = "found at Basiq when listing your connections: Blink never reported it"
        # A pending connection's job is still running and may yet fail (a failed first login
        # leaves no connection): it is adopted by a later reconcile, once settled.
        settled = [item for item in listed if item.status != "pending"]
        found = [
            item.id
            for item in settled
            if self.adopt(
                user_id,
                item.id,
                job_id=None,
                status=STATUSES.get(item.status or "", "active"),
                reason=reason,
            )
        ]
        self._follow_statuses(settled)
        token = access.server_token() if listed else ""
        for item in listed:
            self._catch_up(token, user_id, item.id)
        return found

    def _drop_unlisted(self, user_id: str, listed: set[str], asked: str) -> None:
        """Stored connections of this user that Basiq, asked at `asked`, no longer has; not
        one stored or changed since (Blink may report a connection while Basiq answers)."""
        gone = [
            row.id
            for row in self._store.connections()
            if row.user_id == user_id and row.id not in listed and row.updated < asked
        ]
        record_removed(self._store, gone, GONE)

    def _follow_statuses(self, listed: list[basiq.Connection]) -> None:
        """A stored connection that Basiq now lists as active or invalid is shown so."""
        for item in listed:
            status = STATUSES.get(item.status or "")
            row = self._store.connection(item.id)
            if row is None or status is None or row.status == status or row.job_id:
                continue  # rows with a job are settled by following that job
            with self._store.writing("the connection status") as tx:
                tx.set_status(item.id, status, "reconcile")

    def adopt(
        self, user_id: str, connection_id: str, *, job_id: str | None, status: str, reason: str
    ) -> bool:
        """Store a connection Blink never reported, once, with a `found` row in the event log."""
        raw = json.dumps({"event": "found", "connection": connection_id, "job": job_id})
        with self._store.writing("the connection found") as tx:
            added = tx.adopt_connection(connection_id, user_id, status=status, job_id=job_id)
            if added:
                tx.log_event(FOUND, raw, event="found", accepted=True, reason=reason, job_id=job_id)
                if self._outbox is not None:  # backend mode: your server hears of it too
                    tx.enqueue_report(connection_id, user_id)
        if added:
            log.info("connection %s %s", connection_id, reason)
            if self._outbox is not None:
                self._outbox.wake()
        return added

    def settle(self, token: str, user_id: str, connection_id: str, job: basiq.Job) -> None:
        """The job is done: the connection is active (and named) or failed; logged once."""
        row = self._store.connection(connection_id)
        status = "failed" if job.failed else "active"
        if row is None or row.status == status:
            return
        if not job.failed:  # named first: the list never shows it active and unnamed
            self.describe(token, user_id, connection_id)
        with self._store.writing("the connection status") as tx:
            tx.set_status(connection_id, status, "job")
        if job.failed:
            failure = job.failure()
            why = (failure.title or failure.code) if failure else None
            log.info("job %s failed for connection %s: %s", job.id, connection_id, why)
            return
        named = self._store.connection(connection_id)
        bank = named.institution if named else None
        log.info("job %s done: connection %s at %s is active", job.id, connection_id, bank)

    def name_early(self, token: str, user_id: str, connection_id: str) -> None:
        """Name the bank of a connection whose job is still retrieving its data, once."""
        row = self._store.connection(connection_id)
        if row is not None and row.institution_id is None:
            self.describe(token, user_id, connection_id)

    def describe(self, token: str, user_id: str, connection_id: str) -> None:
        """Best effort: the bank's id, name and logo, and the accounts, in the list."""
        try:
            connection = self._client.connection(token, user_id, connection_id)
            bank_id = connection.institution.id
            institution = self._institutions.get(bank_id) or self._client.institution(
                token, bank_id
            )
            self._institutions[bank_id] = institution
            logo = self._store.logo(bank_id) or self._logo(institution)
            with self._store.writing("the bank's name") as tx:
                if logo is not None:
                    tx.keep_logo(bank_id, logo)
                tx.describe(
                    connection_id,
                    institution_id=bank_id,
                    institution=institution.display_name,
                    detail=connection.summary,
                    method=connection.method,
                )
        except (ApiError, StoreError) as exc:
            log.info("could not name the bank of connection %s: %s", connection_id, exc)

    def _catch_up(self, token: str, user_id: str, connection_id: str) -> None:
        """A stored connection whose job nobody followed to its end, or that nobody named."""
        row = self._store.connection(connection_id)
        if row is None:
            return
        if row.status == "connected" and row.job_id:
            try:
                job = self._client.job(token, row.job_id)
            except ApiError as exc:
                log.info("could not follow job %s of %s: %s", row.job_id, connection_id, exc)
            else:
                if job.done:
                    self.settle(token, user_id, connection_id, job)
                    row = self._store.connection(connection_id) or row
        named = None not in (row.institution_id, row.institution, row.detail)
        if not named or not (row.logo or "").startswith("data:"):
            self.describe(token, user_id, connection_id)

    def _logo(self, institution: basiq.Institution) -> str | None:
        url = institution.logo_url
        if not url:
            return None
        try:
            return self._client.image(url)
        except ApiError as exc:
            log.info(
                "no logo for %s; the list shows its initial: %s", institution.display_name, exc
            )
            return None

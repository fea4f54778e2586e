"""After a webhook was recorded and answered: read its event, to learn when it happened.

A webhook's body says which event and whose; only the event (`GET /events/{id}`, a server
token) says when it happened. Basiq retries a delivery that failed while it delivers later
events, so the order of arrival is not the order of events: a connection invalidated, then
activated again, may be told active, then invalid. Reading each event's `createdDate` puts the
connection's events back in order (webhooks.statuses).

`Resolver` does it on a thread of its own, never a request's: woken by each new webhook, and
every SWEEP seconds for those left over (a failed reading, another instance that stopped).
Each worker of each instance runs one; a webhook is claimed before its event is read (the
store's compare-and-set), so one of them reads it, and a failed reading is due again after a
backoff (FIRST_RETRY doubling to MAX_RETRY). An event Basiq does not have (404), or one that
still cannot be read after MAX_ATTEMPTS, is resolved as unknown: its webhook keeps its place in
the order of arrival.
"""

from __future__ import annotations

import contextlib
import logging
import re
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from blink_desktop.basiq.client import BasiqClient
from blink_desktop.basiq.keyholder import KeyHolder
from blink_desktop.errors import ApiResponseError, BlinkError
from blink_desktop.server.store import Resolution, Store, StoreUnavailable, Unresolved

log = logging.getLogger("blink_desktop.server")

SWEEP = 30.0
BATCH = 20
FIRST_RETRY = 5.0
MAX_RETRY = 3600.0
MAX_ATTEMPTS = 12  # over about 3.5 hours
ID = re.compile(r"[A-Za-z0-9_-]{1,128}")

Event = dict[str, Any]
ReadEvent = Callable[[str], Event | None]


def event_reader(client: BasiqClient, keyholder: KeyHolder) -> ReadEvent:
    """`GET /events/{id}` at Basiq with the server token: the event, or None if Basiq has no
    such event."""

    def read(event_id: str) -> Event | None:
        headers = {"Authorization": f"Bearer {keyholder.server_token()}"}
        headers["Accept"] = "application/json"
        reply = client.http.send("GET", f"/events/{event_id}", what="an event", headers=headers)
        if reply.status == 404:
            return None
        if reply.status >= 400:
            raise ApiResponseError(f"The Basiq API answered {reply.status} for event {event_id}.")
        return reply.body

    return read


def resolution(event: Event) -> Resolution:
    """When the event happened, and its user and connection, as far as it says."""
    occurred = None
    created = event.get("createdDate")
    if isinstance(created, str):
        with contextlib.suppress(ValueError):
            occurred = datetime.fromisoformat(created)
        if occurred is not None and occurred.tzinfo is None:
            occurred = occurred.replace(tzinfo=UTC)
    user = event.get("userId")
    data = event.get("data")
    connection = data.get("id") if isinstance(data, dict) else None
    if event.get("entity") != "connection":
        connection = None
    return Resolution(occurred=occurred, basiq_user_id=_id(user), connection_id=_id(connection))


def _id(value: object) -> str | None:
    return value if isinstance(value, str) and ID.fullmatch(value) else None


class Resolver:
    def __init__(
        self,
        store: Store,
        read_event: ReadEvent,
        *,
        sweep: float = SWEEP,
        first_retry: float = FIRST_RETRY,
    ) -> None:
        self.store = store
        self.read_event = read_event
        self.sweep = sweep
        self.first_retry = first_retry
        self._wake = threading.Event()
        self._stopping = False
        self._thread: threading.Thread | None = None

    def start(self) -> Resolver:
        self._thread = threading.Thread(target=self._run, name="webhook-resolver", daemon=True)
        self._thread.start()
        return self

    def kick(self) -> None:
        """Look now rather than at the next sweep (a webhook was recorded)."""
        self._wake.set()

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=5)  # a reading in progress has its own timeout
            self._thread = None

    def _run(self) -> None:
        while not self._stopping:
            self._wake.clear()
            try:
                while self.run_once() == BATCH and not self._stopping:
                    pass
            except StoreUnavailable:
                pass  # the store says so itself, once per outage
            except Exception as exc:
                log.error("reading webhooks' events failed: %r", exc)
            self._wake.wait(self.sweep)

    def run_once(self) -> int:
        """Read the events of the webhooks due now; how many were due."""
        due = self.store.unresolved_webhooks(BATCH)
        for webhook in due:
            if self._stopping:
                break
            self._resolve(webhook)
        return len(due)

    def _resolve(self, webhook: Unresolved) -> None:
        if webhook.attempts >= MAX_ATTEMPTS:
            log.warning(
                "webhook %s: its event %s could not be read in %d attempts; left unread",
                webhook.message_id,
                webhook.event_id,
                webhook.attempts,
            )
            self.store.resolve_webhook(webhook.message_id, Resolution())
            return
        retry_in = min(self.first_retry * 2**webhook.attempts, MAX_RETRY)
        if not self.store.claim_webhook(webhook, retry_in):
            return  # another worker has it
        try:
            event = self.read_event(webhook.event_id)
        except BlinkError as exc:
            log.warning(
                "webhook %s: its event %s could not be read (%s); again in %g s",
                webhook.message_id,
                webhook.event_id,
                exc,
                retry_in,
            )
            return
        if event is None:
            log.warning("webhook %s: Basiq has no event %s", webhook.message_id, webhook.event_id)
        found = Resolution() if event is None else resolution(event)
        self.store.resolve_webhook(webhook.message_id, found)

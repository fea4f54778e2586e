"""The reference server's own database: who each person is at Basiq, the connections that apps
report, and the webhooks Basiq delivered.

`Store` is the narrow interface the routes use, with two engines: `SqliteStore` (`sqlite.py`),
the default, for one machine; and `PostgresStore` (`postgres.py`), for several workers and
machines. `open_store` picks one from BLINK_DESKTOP_DATABASE_URL: a file path, or a
`postgresql://` URL.

Basiq's POST /users is not idempotent, so `user_for` creates a person's Basiq user under a lock
that every worker sharing the database honours: SQLite's own write lock, or on PostgreSQL a lock
on the identifier alone. A webhook is recorded under a unique key, its `webhook-id`, so one
delivered twice, to two workers or instances at once, is recorded once on either engine.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from blink_desktop.errors import StoreError

USER_WAIT = 30.0
"""Seconds a request waits for another that is creating the same person's Basiq user (Basiq
answers POST /users in well under a second; its client gives up after 23 s)."""

Clock = Callable[[], datetime]


def timestamp(moment: datetime) -> str:
    """As the store lists it: UTC, to the millisecond, e.g. 2026-03-01T12:00:00.000Z."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def utc_now() -> datetime:
    return datetime.now(UTC)


class StoreUnavailable(StoreError):
    """The database cannot answer now but may soon: the app is told to retry (503)."""

    def __init__(self, message: str, *, code: str, retry_after: int) -> None:
        super().__init__(message)
        self.code = code
        self.retry_after = retry_after


def user_being_created() -> StoreUnavailable:
    return StoreUnavailable(
        "Another request is creating this person's Basiq user and has not finished. "
        "Retry in a few seconds.",
        code="user-being-created",
        retry_after=2,
    )


@dataclass(frozen=True)
class ReportedConnection:
    """A connection an app reported: when first, and when last."""

    connection_id: str
    basiq_user_id: str
    reported: str
    updated: str


@dataclass(frozen=True)
class ReceivedWebhook:
    """A verified webhook, as recorded: `message_id` is its `webhook-id`, the same on every
    retry; the user and connection are those its links name, when they name one."""

    message_id: str
    event_id: str
    event_type: str
    basiq_user_id: str | None
    connection_id: str | None
    body: str


@dataclass(frozen=True)
class ConnectionEvent:
    """A recorded `connection.*` event: when it happened at Basiq (once its event was read),
    when it arrived, and in which order it arrived (`seq`)."""

    connection_id: str
    event_type: str
    occurred: str | None
    received: str
    seq: int


@dataclass(frozen=True)
class Unresolved:
    """A recorded webhook whose event has not been read yet, and how often that was tried."""

    message_id: str
    event_id: str
    attempts: int


@dataclass(frozen=True)
class Resolution:
    """What reading a webhook's event told: when it happened, and whose it is. All None for an
    event Basiq no longer has."""

    occurred: datetime | None = None
    basiq_user_id: str | None = None
    connection_id: str | None = None


class Store(Protocol):
    """What the routes need of a database. Every method may raise StoreError, and
    StoreUnavailable when the database cannot answer now."""

    def basiq_user(self, identifier: str) -> str | None:
        """The Basiq user id remembered for this identifier, if any."""

    def user_for(self, identifier: str, create: Callable[[], str]) -> str:
        """The Basiq user remembered for this identifier, or the one `create()` makes now and
        this remembers. Across every worker and instance sharing the database, one request at a
        time may create it: the others wait (up to USER_WAIT) and get the same one."""

    def report(self, connection_id: str, basiq_user_id: str) -> str:
        """Record a reported connection once; reporting it again for the same user only
        updates its time. Returns the user it is recorded for: another user's when it was
        reported for them first (and then nothing changes)."""

    def connections_of(self, basiq_user_id: str) -> list[ReportedConnection]:
        """The user's reported connections, the most recently reported first."""

    def admit(self, basiq_user_id: str, client: str) -> None:
        """Record that this client (a hash of its id) asked for this user: the user's data is
        that client's to read and change."""

    def admits(self, basiq_user_id: str, client: str) -> bool:
        """Whether this client asked for this user. A user remembered from before the server
        recorded who asked (no client at all) is admitted for the first client that asks."""

    def record_webhook(self, webhook: ReceivedWebhook) -> bool:
        """Record a webhook unless its message id is recorded already; True if this recorded
        it. However many workers and instances record the same one at once, one does."""

    def connection_events(self, basiq_user_id: str) -> list[ConnectionEvent]:
        """The `connection.*` events recorded for the user's connections, in arrival order."""

    def unresolved_webhooks(self, limit: int) -> list[Unresolved]:
        """Up to `limit` webhooks whose event is due to be read, the oldest first."""

    def claim_webhook(self, webhook: Unresolved, retry_in: float) -> bool:
        """Take a webhook to read its event, unless another worker took it since it was
        listed; if this reading fails, it is due again in `retry_in` seconds."""

    def resolve_webhook(self, message_id: str, resolution: Resolution) -> None:
        """Record what its event told; a user or connection already known is kept."""

    def check(self) -> None:
        """Return if the database answers; raise StoreUnavailable if not."""

    def close(self) -> None: ...


def open_store(location: Path | str, *, clock: Clock = utc_now) -> Store:
    """The store at `location`: a `postgresql://` URL, or else the path of a SQLite file."""
    if is_postgres_url(str(location)):
        try:
            # Imported by name, so that PyInstaller leaves psycopg out of the desktop bundle:
            # PostgreSQL is for the server installed with pip.
            postgres = importlib.import_module("blink_desktop.server.postgres")
        except ImportError as exc:
            raise StoreError(
                f"BLINK_DESKTOP_DATABASE_URL names PostgreSQL, which this blink-desktop cannot "
                f"use ({exc}). Install it with the server's extras: pip install "
                "'blink-desktop[server]'."
            ) from None
        store: Store = postgres.PostgresStore(str(location), clock=clock)
        return store
    from blink_desktop.server.sqlite import SqliteStore

    return SqliteStore(Path(location), clock=clock)


def is_postgres_url(location: str) -> bool:
    return location.startswith(("postgresql://", "postgres://"))

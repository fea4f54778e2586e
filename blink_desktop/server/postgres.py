"""The reference server's store on PostgreSQL: for several workers, and several machines.

psycopg 3 and its connection pool. The store needs a handful of statements, written once per
engine; the locks that keep it correct are PostgreSQL's own; and the SQLite engine goes on
converting the previous server's file. SQLAlchemy Core and Alembic would spare none of that.

- Migrations (postgres_schema.py) run at start, behind an advisory lock: instances starting
  at once migrate once.
- `user_for` creates a person's Basiq user holding a transaction-scoped advisory lock on the
  identifier: across every worker and instance, one request at a time may create it; the
  others wait for the lock (at most USER_WAIT), then find the user it made. A worker that dies
  while Basiq answers releases the lock with its connection.
- A webhook is inserted ON CONFLICT DO NOTHING on its webhook-id: of two instances recording
  the same one at once, one inserts it and the other waits for that, then finds it there.
  Reading events is claimed row by row (compare-and-set on the attempts), so each is read once.
- The pool checks a connection before lending it, a request waits at most WAIT for one, and
  connecting has a timeout: a database that does not answer is StoreUnavailable (503) within
  seconds, logged once when it stops answering and once when it answers again; the first
  request after it is back is served.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

import psycopg
from psycopg import errors
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg_pool import ConnectionPool, PoolTimeout

from blink_desktop.errors import StoreError
from blink_desktop.logs import redactor
from blink_desktop.server import postgres_schema
from blink_desktop.server.store import (
    USER_WAIT,
    Clock,
    ConnectionEvent,
    ReceivedWebhook,
    ReportedConnection,
    Resolution,
    StoreUnavailable,
    Unresolved,
    timestamp,
    user_being_created,
    utc_now,
)

log = logging.getLogger("blink_desktop.server")

POOL_SIZE = 10  # connections per process at most: one for each of 8 request threads, and spare
# Seconds a request waits for a pooled connection before it is answered 503. With no more
# threads than connections, a request waits this long only when the database does not answer.
WAIT = 2.0
START_TIMEOUT = 10.0  # seconds the server waits for its first pooled connection at start
STATEMENT_TIMEOUT_MS = 10_000  # a statement that takes longer is cancelled (then 503)

# libpq's defaults where the URL sets none: connect within seconds (libpq counts whole
# seconds, at least 2), and find out within seconds that a database gone silent mid-query is
# gone (keepalives; unacknowledged data), instead of waiting on the operating system's hours.
CONNECTION_DEFAULTS: dict[str, Any] = {
    "connect_timeout": 3,
    "application_name": "blink-desktop serve",
    "keepalives": 1,
    "keepalives_idle": 10,
    "keepalives_interval": 5,
    "keepalives_count": 3,
    "tcp_user_timeout": 15_000,
}

# Advisory locks are (namespace, key) pairs; the namespace spells "Blus" (the schema's own
# lock, in postgres_schema.py, "Blnk"), so that another application sharing the database is
# unlikely to take the same ones.
USER_LOCKS = 0x426C7573
CLAIM_LOCKS = 0x426C636C  # "Blcl": a user's first client, apart from the users being made

UNAVAILABLE = (
    "The server's database is not answering, so this request was not served. Retry in a few "
    "seconds."
)


def safe_url(url: str) -> str:
    """The URL as logs and messages show it: no password, no options."""
    try:
        parts = conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "postgresql://(not a valid URL)"
    user = f"{parts['user']}@" if parts.get("user") else ""
    host = str(parts.get("host") or "")
    port = f":{parts['port']}" if parts.get("port") else ""
    return f"postgresql://{user}{host}{port}/{parts.get('dbname') or ''}"


def user_lock_key(identifier: str) -> int:
    """The identifier's lock, 32 bits: two identifiers that share one only wait for each other."""
    digest = hashlib.blake2b(identifier.encode(), digest_size=4).digest()
    return int.from_bytes(digest, "big", signed=True)


def _reason(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def _configure(conn: psycopg.Connection[Any]) -> None:
    conn.execute(f"SET statement_timeout = {STATEMENT_TIMEOUT_MS}")


class PostgresStore:
    def __init__(
        self,
        url: str,
        *,
        clock: Clock = utc_now,
        pool_size: int = POOL_SIZE,
        wait: float | None = None,
    ) -> None:
        wait = WAIT if wait is None else wait
        self.where = safe_url(url)
        self._clock = clock
        try:
            given = conninfo_to_dict(url)
        except psycopg.ProgrammingError as exc:
            raise StoreError(
                f"BLINK_DESKTOP_DATABASE_URL is not a PostgreSQL URL ({_reason(exc)}). Write it "
                "as postgresql://USER:PASSWORD@HOST:PORT/DATABASE."
            ) from None
        if given.get("password"):
            redactor.add_secret(str(given["password"]))
        defaults = {k: v for k, v in CONNECTION_DEFAULTS.items() if k not in given}
        conninfo = make_conninfo(url, **defaults)
        self._migrate(conninfo)
        self._down = False
        self._state = threading.Lock()
        self._pool = ConnectionPool(
            conninfo,
            kwargs={"autocommit": True},
            min_size=1,
            max_size=pool_size,
            timeout=wait,
            # While the database is gone, each connection attempt gives up after this long and
            # the next request starts a new one: when it returns, it is found at once, not
            # after a backoff grown through the outage.
            reconnect_timeout=wait,
            check=ConnectionPool.check_connection,
            configure=_configure,
            name="blink-desktop",
            open=False,
        )
        try:
            self._pool.open(wait=True, timeout=START_TIMEOUT)
        except PoolTimeout:
            self._pool.close()
            raise StoreError(
                f"The server's database at {self.where} stopped answering as the server "
                "started. Check that PostgreSQL is running and reachable, then start again."
            ) from None

    def _migrate(self, conninfo: str) -> None:
        try:
            with psycopg.connect(conninfo, autocommit=True) as conn:
                migrated = postgres_schema.migrate(conn, self.where)
            if migrated:
                log.info("The server's database at %s is at schema %d.", self.where, migrated)
        except psycopg.OperationalError as exc:
            raise StoreError(
                f"The server's database at {self.where} cannot be reached ({_reason(exc)}). "
                "Check BLINK_DESKTOP_DATABASE_URL, and that PostgreSQL is running and reachable."
            ) from None
        except psycopg.Error as exc:
            raise StoreError(
                f"The server's database at {self.where} could not be prepared ({_reason(exc)}). "
                "Its user needs to own the database, or to be allowed to create tables in it."
            ) from None

    @property
    def version(self) -> int:
        with self._connection("read the schema version") as conn:
            row = conn.execute(f"SELECT version FROM {postgres_schema.TABLE}").fetchone()
        return int(row[0]) if row else 0

    def close(self) -> None:
        self._pool.close(timeout=5.0)

    @contextmanager
    def _connection(self, what: str) -> Iterator[psycopg.Connection[Any]]:
        """A pooled connection; psycopg's errors leave here as the store's own."""
        try:
            with self._pool.connection() as conn:
                yield conn
        except errors.LockNotAvailable as exc:
            raise user_being_created() from exc
        except psycopg.OperationalError as exc:  # no connection, or it broke, or timed out
            raise self._unavailable(exc) from exc
        except psycopg.Error as exc:
            message = f"Could not {what} in the server's database ({_reason(exc)})."
            raise StoreError(message) from exc
        self._answered()

    def _unavailable(self, exc: BaseException) -> StoreUnavailable:
        with self._state:
            first, self._down = not self._down, True
        if first:
            log.error(
                "The server's database at %s is not answering (%s); requests that need it get "
                "503 until it answers again.",
                self.where,
                _reason(exc),
            )
        return StoreUnavailable(UNAVAILABLE, code="database-unavailable", retry_after=5)

    def _answered(self) -> None:
        if self._down:
            with self._state:
                back, self._down = self._down, False
            if back:
                log.info("The server's database at %s answers again.", self.where)

    def _now(self, later: float = 0.0) -> datetime:
        moment = self._clock() + timedelta(seconds=later)
        return moment.replace(microsecond=moment.microsecond - moment.microsecond % 1000)

    def basiq_user(self, identifier: str) -> str | None:
        with self._connection("read the user") as conn:
            row = conn.execute(
                "SELECT basiq_user_id FROM users WHERE identifier = %s", (identifier,)
            ).fetchone()
        return str(row[0]) if row else None

    def user_for(self, identifier: str, create: Callable[[], str]) -> str:
        known = self.basiq_user(identifier)
        if known is not None:
            return known
        wait_ms = int(USER_WAIT * 1000)
        with self._connection("save the user") as conn, conn.transaction():
            conn.execute(
                "SELECT set_config('lock_timeout', %s, true),"
                " set_config('statement_timeout', %s, true)",
                (str(wait_ms), str(wait_ms + STATEMENT_TIMEOUT_MS)),
            )
            conn.execute(
                "SELECT pg_advisory_xact_lock(%s, %s)", (USER_LOCKS, user_lock_key(identifier))
            )
            # A statement of its own, so that it sees what the lock's last holder committed.
            row = conn.execute(
                "SELECT basiq_user_id FROM users WHERE identifier = %s", (identifier,)
            ).fetchone()
            if row is not None:
                return str(row[0])
            created = create()
            conn.execute(
                "INSERT INTO users (identifier, basiq_user_id, created) VALUES (%s, %s, %s)",
                (identifier, created, self._now()),
            )
            return created

    def report(self, connection_id: str, basiq_user_id: str) -> str:
        stamp = self._now()
        with self._connection("save the connection") as conn:
            conn.execute(
                "INSERT INTO reported_connections"
                " (connection_id, basiq_user_id, reported, updated) VALUES (%s, %s, %s, %s)"
                " ON CONFLICT (connection_id) DO UPDATE"
                " SET updated = GREATEST(reported_connections.updated, excluded.updated)"
                " WHERE reported_connections.basiq_user_id = excluded.basiq_user_id",
                (connection_id, basiq_user_id, stamp, stamp),
            )
            row = conn.execute(
                "SELECT basiq_user_id FROM reported_connections WHERE connection_id = %s",
                (connection_id,),
            ).fetchone()
        if row is None:  # inserted or there already, in this one transaction
            raise StoreError("The connection was not saved in the server's database.")
        return str(row[0])

    def connections_of(self, basiq_user_id: str) -> list[ReportedConnection]:
        with self._connection("read the connections") as conn:
            rows = conn.execute(
                "SELECT connection_id, basiq_user_id, reported, updated FROM reported_connections"
                " WHERE basiq_user_id = %s ORDER BY reported DESC, connection_id",
                (basiq_user_id,),
            ).fetchall()
        return [
            ReportedConnection(str(c), str(u), timestamp(reported), timestamp(updated))
            for c, u, reported, updated in rows
        ]

    def check(self) -> None:
        with self._connection("check the database") as conn:
            conn.execute("SELECT 1")

    # whose users
    def admit(self, basiq_user_id: str, client: str) -> None:
        with self._connection("save the user's client") as conn:
            conn.execute(
                "INSERT INTO user_clients (basiq_user_id, client, admitted) VALUES (%s, %s, %s)"
                " ON CONFLICT DO NOTHING",
                (basiq_user_id, client, self._now()),
            )

    def admits(self, basiq_user_id: str, client: str) -> bool:
        sql = "SELECT client FROM user_clients WHERE basiq_user_id = %s"
        with self._connection("read the user's clients") as conn:
            rows = conn.execute(sql, (basiq_user_id,)).fetchall()
        if rows:
            return client in {str(row[0]) for row in rows}
        with self._connection("record the user's client") as conn, conn.transaction():
            # One claim of a user from before clients were recorded, however many ask at once.
            conn.execute(
                "SELECT pg_advisory_xact_lock(%s, %s)",
                (CLAIM_LOCKS, user_lock_key(basiq_user_id)),
            )
            # A statement of its own, so that it sees what the lock's last holder committed.
            rows = conn.execute(sql, (basiq_user_id,)).fetchall()
            if rows:
                return client in {str(row[0]) for row in rows}
            known = conn.execute(
                "SELECT 1 FROM users WHERE basiq_user_id = %s", (basiq_user_id,)
            ).fetchone()
            if known is None:
                return False
            conn.execute(
                "INSERT INTO user_clients (basiq_user_id, client, admitted) VALUES (%s, %s, %s)",
                (basiq_user_id, client, self._now()),
            )
            return True

    # webhooks
    def record_webhook(self, webhook: ReceivedWebhook) -> bool:
        stamp = self._now()
        with self._connection("save the webhook") as conn:
            added = conn.execute(
                "INSERT INTO webhooks (message_id, event_id, event_type, basiq_user_id,"
                " connection_id, received, resolve_after, body)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (message_id) DO NOTHING",
                (
                    webhook.message_id,
                    webhook.event_id,
                    webhook.event_type,
                    webhook.basiq_user_id,
                    webhook.connection_id,
                    stamp,
                    stamp,
                    webhook.body,
                ),
            )
            return added.rowcount == 1

    def connection_events(self, basiq_user_id: str) -> list[ConnectionEvent]:
        with self._connection("read the webhooks") as conn:
            rows = conn.execute(
                "SELECT connection_id, event_type, occurred, received, seq FROM webhooks"
                " WHERE basiq_user_id = %s AND connection_id IS NOT NULL"
                " AND event_type LIKE 'connection.%%' ORDER BY seq",
                (basiq_user_id,),
            ).fetchall()
        return [
            ConnectionEvent(str(c), str(kind), occurred and timestamp(occurred), timestamp(at), n)
            for c, kind, occurred, at, n in rows
        ]

    def unresolved_webhooks(self, limit: int) -> list[Unresolved]:
        with self._connection("read the webhooks") as conn:
            rows = conn.execute(
                "SELECT message_id, event_id, attempts FROM webhooks WHERE resolved IS NULL"
                " AND resolve_after <= %s ORDER BY resolve_after, seq LIMIT %s",
                (self._now(), limit),
            ).fetchall()
        return [Unresolved(str(m), str(e), int(a)) for m, e, a in rows]

    def claim_webhook(self, webhook: Unresolved, retry_in: float) -> bool:
        with self._connection("save the webhook") as conn:
            claimed = conn.execute(
                "UPDATE webhooks SET attempts = attempts + 1, resolve_after = %s"
                " WHERE message_id = %s AND attempts = %s AND resolved IS NULL",
                (self._now(retry_in), webhook.message_id, webhook.attempts),
            )
            return claimed.rowcount == 1

    def resolve_webhook(self, message_id: str, resolution: Resolution) -> None:
        with self._connection("save the webhook") as conn:
            conn.execute(
                "UPDATE webhooks SET resolved = %s, occurred = %s,"
                " basiq_user_id = coalesce(basiq_user_id, %s),"
                " connection_id = coalesce(connection_id, %s) WHERE message_id = %s",
                (
                    self._now(),
                    resolution.occurred,
                    resolution.basiq_user_id,
                    resolution.connection_id,
                    message_id,
                ),
            )

"""The reference server's store on SQLite: the default, for one machine.

WAL mode, a file readable by its owner only, the schema versioned with PRAGMA user_version and
migrated inside a write transaction (so two processes opening a new file at once migrate it
once). Creating a user holds SQLite's write lock on a connection kept for it (SQLite has no
finer lock across processes; the other writers wait for it, up to the busy timeout, while Basiq
answers). A webhook's `webhook-id` is the webhooks table's primary key: one delivered twice is
one row, whichever worker gets it.

Before this store existed the server wrote into the desktop app's schema (versions 1 to 3,
with tables users, connections, events and outbox). Such a file is converted in place on
first open, keeping its users and the connections it recorded; this schema therefore starts
at version 4, so an older blink-desktop refuses a converted file instead of misreading it.
Version 5 adds the webhooks; version 6 which clients asked for each user.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import timedelta
from pathlib import Path
from typing import Any

from blink_desktop import sqlite_file
from blink_desktop.errors import StoreError
from blink_desktop.server.store import (
    USER_WAIT,
    Clock,
    ConnectionEvent,
    ReceivedWebhook,
    ReportedConnection,
    Resolution,
    Unresolved,
    timestamp,
    user_being_created,
    utc_now,
)

# A new file gets version 4 at once, then the upgrades.
SCHEMA: tuple[str, ...] = (
    """CREATE TABLE users (
        identifier TEXT PRIMARY KEY,
        basiq_user_id TEXT NOT NULL,
        created TEXT NOT NULL
    )""",
    """CREATE TABLE reported_connections (
        connection_id TEXT PRIMARY KEY,
        basiq_user_id TEXT NOT NULL,
        reported TEXT NOT NULL,
        updated TEXT NOT NULL
    )""",
    "CREATE INDEX reported_connections_by_user ON reported_connections (basiq_user_id, reported)",
)

# From the desktop app's schema (versions 1-3) to version 4: its users table already has this
# shape; every connection the previous server could list (it wrote them all as 'reported') is
# carried over.
FROM_APP_SCHEMA: tuple[str, ...] = (
    *SCHEMA[1:],
    """INSERT INTO reported_connections (connection_id, basiq_user_id, reported, updated)
        SELECT id, basiq_user_id, created, updated FROM connections WHERE basiq_user_id <> ''""",
    "DROP TABLE connections",
    "DROP TABLE IF EXISTS events",
    "DROP TABLE IF EXISTS outbox",
)

# After version 4, one entry per version.
UPGRADES: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE webhooks (
            message_id TEXT PRIMARY KEY,
            event_id TEXT NOT NULL,
            event_type TEXT NOT NULL,
            basiq_user_id TEXT,
            connection_id TEXT,
            received TEXT NOT NULL,
            occurred TEXT,
            resolved TEXT,
            attempts INTEGER NOT NULL DEFAULT 0,
            resolve_after TEXT NOT NULL,
            body TEXT NOT NULL
        )""",
        "CREATE INDEX webhooks_by_user ON webhooks (basiq_user_id, connection_id)",
        "CREATE INDEX webhooks_unresolved ON webhooks (resolve_after) WHERE resolved IS NULL",
    ),
    (
        # Which clients asked for each user: its data is theirs alone.
        """CREATE TABLE user_clients (
            basiq_user_id TEXT NOT NULL,
            client TEXT NOT NULL,
            admitted TEXT NOT NULL,
            PRIMARY KEY (basiq_user_id, client)
        )""",
    ),
)
VERSION = 4 + len(UPGRADES)

_WHAT = "The server's database"
_SETTING = "--db, BLINK_DESKTOP_DATABASE_URL or BLINK_DESKTOP_DATA_DIR"


class SqliteStore:
    def __init__(self, path: Path, *, clock: Clock = utc_now) -> None:
        self.path = path
        self._clock = clock
        self._lock = threading.Lock()
        self._db = sqlite_file.connect(path, what=_WHAT, setting=_SETTING)
        try:
            self._migrate()
            # Creating a user holds SQLite's write lock on a connection of its own, so the
            # store's other work in this process goes on while Basiq answers.
            self._creator = sqlite_file.connect(path, what=_WHAT, setting=_SETTING)
        except (sqlite3.Error, StoreError) as exc:
            self._db.close()
            if isinstance(exc, StoreError):
                raise
            raise sqlite_file.open_error(path, exc, what=_WHAT, setting=_SETTING) from exc
        self._creating = threading.Lock()

    def close(self) -> None:
        with self._lock:
            self._db.close()
        if self._creating.acquire(timeout=USER_WAIT):
            self._creator.close()
            self._creating.release()

    @property
    def version(self) -> int:
        with self._lock:
            return _version(self._db)

    def _migrate(self) -> None:
        # The version is read inside the write transaction, so two processes opening a new
        # file at once migrate it once.
        with sqlite_file.transaction(self._db, self._lock) as db:
            current = _version(db)
            if current == VERSION:
                return
            if current > VERSION:
                raise StoreError(
                    f"The server's database {self.path} was written by a newer blink-desktop "
                    f"(schema {current}); update blink-desktop."
                )
            statements: tuple[str, ...] = ()
            if current == 0:
                statements = SCHEMA
            elif current < 4:
                _refuse_an_apps_database(db, self.path)
                statements = FROM_APP_SCHEMA
            for upgrade in UPGRADES[max(current, 4) - 4 :]:
                statements += upgrade
            for statement in statements:
                db.execute(statement)
            db.execute(f"PRAGMA user_version = {VERSION}")

    def _writing(self, what: str) -> AbstractContextManager[sqlite3.Connection]:
        return sqlite_file.writing(self._db, self._lock, self.path, what)

    def _read(self, sql: str, *args: Any) -> list[sqlite3.Row]:
        return sqlite_file.read(self._db, self._lock, self.path, sql, args)

    def _now(self, later: float = 0.0) -> str:
        return timestamp(self._clock() + timedelta(seconds=later))

    def basiq_user(self, identifier: str) -> str | None:
        rows = self._read("SELECT basiq_user_id FROM users WHERE identifier = ?", identifier)
        return str(rows[0][0]) if rows else None

    def user_for(self, identifier: str, create: Callable[[], str]) -> str:
        known = self.basiq_user(identifier)
        if known is not None:
            return known
        # One creation at a time in this process, then SQLite's write lock for the others.
        if not self._creating.acquire(timeout=USER_WAIT):
            raise user_being_created()
        try:
            db = self._creator
            try:
                db.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:  # still locked after the busy timeout
                raise user_being_created() from exc
            try:
                row = db.execute(
                    "SELECT basiq_user_id FROM users WHERE identifier = ?", (identifier,)
                ).fetchone()
                if row is not None:  # created while this request waited
                    db.execute("COMMIT")
                    return str(row[0])
                created = create()
                db.execute(
                    "INSERT INTO users (identifier, basiq_user_id, created) VALUES (?, ?, ?)",
                    (identifier, created, self._now()),
                )
                db.execute("COMMIT")
                return created
            except BaseException as exc:
                with contextlib.suppress(sqlite3.Error):  # a failed COMMIT may have ended it
                    db.execute("ROLLBACK")
                if isinstance(exc, sqlite3.Error):
                    raise StoreError(
                        f"Could not save the user to {self.path} ({exc}), so it was not saved. "
                        "Free some disk space or check the folder's permissions, then retry."
                    ) from exc
                raise
        finally:
            self._creating.release()

    def check(self) -> None:
        self._read("SELECT 1")

    def report(self, connection_id: str, basiq_user_id: str) -> str:
        stamp = self._now()
        with self._writing("the connection") as db:
            db.execute(
                "INSERT INTO reported_connections"
                " (connection_id, basiq_user_id, reported, updated) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (connection_id)"
                " DO UPDATE SET updated = max(updated, excluded.updated)"
                " WHERE basiq_user_id = excluded.basiq_user_id",
                (connection_id, basiq_user_id, stamp, stamp),
            )
            row = db.execute(
                "SELECT basiq_user_id FROM reported_connections WHERE connection_id = ?",
                (connection_id,),
            ).fetchone()
        if row is None:  # inserted or there already, in this one transaction
            raise StoreError("The connection was not saved in the server's database.")
        return str(row[0])

    def connections_of(self, basiq_user_id: str) -> list[ReportedConnection]:
        rows = self._read(
            "SELECT connection_id, basiq_user_id, reported, updated FROM reported_connections"
            " WHERE basiq_user_id = ? ORDER BY reported DESC, connection_id",
            basiq_user_id,
        )
        return [ReportedConnection(*row) for row in rows]

    # whose users
    def admit(self, basiq_user_id: str, client: str) -> None:
        with self._writing("the user's client") as db:
            db.execute(
                "INSERT INTO user_clients (basiq_user_id, client, admitted) VALUES (?, ?, ?)"
                " ON CONFLICT DO NOTHING",
                (basiq_user_id, client, self._now()),
            )

    def admits(self, basiq_user_id: str, client: str) -> bool:
        sql = "SELECT client FROM user_clients WHERE basiq_user_id = ?"
        clients = {row[0] for row in self._read(sql, basiq_user_id)}
        if clients:
            return client in clients
        with self._writing("the user's client") as db:  # a claim: asked again, inside
            clients = {row[0] for row in db.execute(sql, (basiq_user_id,))}
            if clients:
                return client in clients
            known = db.execute(
                "SELECT 1 FROM users WHERE basiq_user_id = ?", (basiq_user_id,)
            ).fetchone()
            if known is None:
                return False
            db.execute(
                "INSERT INTO user_clients (basiq_user_id, client, admitted) VALUES (?, ?, ?)",
                (basiq_user_id, client, self._now()),
            )
            return True

    # webhooks
    def record_webhook(self, webhook: ReceivedWebhook) -> bool:
        stamp = self._now()
        with self._writing("the webhook") as db:
            added = db.execute(
                "INSERT INTO webhooks (message_id, event_id, event_type, basiq_user_id,"
                " connection_id, received, resolve_after, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (message_id) DO NOTHING",
                (*_fields(webhook), stamp, stamp, webhook.body),
            )
            return added.rowcount == 1

    def connection_events(self, basiq_user_id: str) -> list[ConnectionEvent]:
        rows = self._read(
            "SELECT connection_id, event_type, occurred, received, rowid FROM webhooks"
            " WHERE basiq_user_id = ? AND connection_id IS NOT NULL"
            " AND event_type LIKE 'connection.%' ORDER BY rowid",
            basiq_user_id,
        )
        return [ConnectionEvent(*row) for row in rows]

    def unresolved_webhooks(self, limit: int) -> list[Unresolved]:
        rows = self._read(
            "SELECT message_id, event_id, attempts FROM webhooks"
            " WHERE resolved IS NULL AND resolve_after <= ? ORDER BY resolve_after, rowid LIMIT ?",
            self._now(),
            limit,
        )
        return [Unresolved(*row) for row in rows]

    def claim_webhook(self, webhook: Unresolved, retry_in: float) -> bool:
        with self._writing("the webhook") as db:
            claimed = db.execute(
                "UPDATE webhooks SET attempts = attempts + 1, resolve_after = ?"
                " WHERE message_id = ? AND attempts = ? AND resolved IS NULL",
                (self._now(retry_in), webhook.message_id, webhook.attempts),
            )
            return claimed.rowcount == 1

    def resolve_webhook(self, message_id: str, resolution: Resolution) -> None:
        occurred = timestamp(resolution.occurred) if resolution.occurred else None
        with self._writing("the webhook") as db:
            db.execute(
                "UPDATE webhooks SET resolved = ?, occurred = ?,"
                " basiq_user_id = coalesce(basiq_user_id, ?),"
                " connection_id = coalesce(connection_id, ?) WHERE message_id = ?",
                (
                    self._now(),
                    occurred,
                    resolution.basiq_user_id,
                    resolution.connection_id,
                    message_id,
                ),
            )


def _fields(webhook: ReceivedWebhook) -> tuple[str | None, ...]:
    return (
        webhook.message_id,
        webhook.event_id,
        webhook.event_type,
        webhook.basiq_user_id,
        webhook.connection_id,
    )


def _version(db: sqlite3.Connection) -> int:
    return int(db.execute("PRAGMA user_version").fetchone()[0])


def _refuse_an_apps_database(db: sqlite3.Connection, path: Path) -> None:
    """The previous server never wrote events or reports: a file that has some is the app's."""
    for table in ("events", "outbox"):
        exists = db.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)
        ).fetchone()
        if exists and db.execute(f"SELECT 1 FROM {table} LIMIT 1").fetchone():
            raise StoreError(
                f"{path} is the desktop app's database, not the server's. Nothing was changed "
                "in it; give the server a file of its own (--db)."
            )

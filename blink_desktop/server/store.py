"""The reference server's own database: who each person is at Basiq, and the connections that
apps report.

`Store` is the narrow interface the routes use; `SqliteStore` is its SQLite engine (WAL mode,
a file readable by its owner only, the schema versioned with PRAGMA user_version). Another
engine (PostgreSQL, say) only has to offer the same five methods.

Before this store existed the server wrote into the desktop app's schema (versions 1 to 3,
with tables users, connections, events and outbox). Such a file is converted in place on
first open, keeping its users and the connections it recorded; this schema therefore starts
at version 4, so an older blink-desktop refuses a converted file instead of misreading it.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from blink_desktop import sqlite_file
from blink_desktop.errors import StoreError

VERSION = 4

# A new file gets the current schema at once.
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

# From the desktop app's schema (versions 1-3): its users table already has this shape; every
# connection the previous server could list (it wrote them all as 'reported') is carried over.
FROM_APP_SCHEMA: tuple[str, ...] = (
    *SCHEMA[1:],
    """INSERT INTO reported_connections (connection_id, basiq_user_id, reported, updated)
        SELECT id, basiq_user_id, created, updated FROM connections WHERE basiq_user_id <> ''""",
    "DROP TABLE connections",
    "DROP TABLE IF EXISTS events",
    "DROP TABLE IF EXISTS outbox",
)


def _timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class ReportedConnection:
    """A connection an app reported: when first, and when last."""

    connection_id: str
    basiq_user_id: str
    reported: str
    updated: str


class Store(Protocol):
    """What the routes need of a database."""

    def basiq_user(self, identifier: str) -> str | None:
        """The Basiq user id remembered for this identifier, if any."""

    def remember_user(self, identifier: str, basiq_user_id: str) -> str:
        """Remember a person's Basiq user; the first one remembered wins, and is returned."""

    def report(self, connection_id: str, basiq_user_id: str) -> None:
        """Record a reported connection; reporting it again only updates its time."""

    def connections_of(self, basiq_user_id: str) -> list[ReportedConnection]:
        """The user's reported connections, the most recently reported first."""

    def close(self) -> None: ...


class SqliteStore:
    def __init__(
        self, path: Path, *, clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    ) -> None:
        self.path = path
        self._clock = clock
        self._lock = threading.Lock()
        self._db = sqlite_file.connect(
            path, what="The server's database", setting="--db or BLINK_DESKTOP_DATA_DIR"
        )
        try:
            self._migrate()
        except (sqlite3.Error, StoreError) as exc:
            self._db.close()
            if isinstance(exc, StoreError):
                raise
            raise sqlite_file.open_error(
                path, exc, what="The server's database", setting="--db or BLINK_DESKTOP_DATA_DIR"
            ) from exc

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @property
    def version(self) -> int:
        with self._lock:
            return _version(self._db)

    def _migrate(self) -> None:
        # The version is read inside the write transaction, so two processes opening a new
        # file at once migrate it once.
        with self._transaction() as db:
            current = _version(db)
            if current == VERSION:
                return
            if current > VERSION:
                raise StoreError(
                    f"The server's database {self.path} was written by a newer blink-desktop "
                    f"(schema {current}); update blink-desktop."
                )
            if current == 0:
                statements = SCHEMA
            else:
                _refuse_an_apps_database(db, self.path)
                statements = FROM_APP_SCHEMA
            for statement in statements:
                db.execute(statement)
            db.execute(f"PRAGMA user_version = {VERSION}")

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    @contextmanager
    def _writing(self, what: str) -> Iterator[sqlite3.Connection]:
        try:
            with self._transaction() as db:
                yield db
        except sqlite3.Error as exc:
            raise StoreError(
                f"Could not save {what} to {self.path} ({exc}), so it was not saved. Free some "
                "disk space or check the folder's permissions, then retry."
            ) from exc

    def _read(self, sql: str, *args: Any) -> list[sqlite3.Row]:
        try:
            with self._lock:
                return self._db.execute(sql, args).fetchall()
        except sqlite3.Error as exc:
            raise StoreError(f"Could not read {self.path} ({exc}).") from exc

    def _now(self) -> str:
        return _timestamp(self._clock())

    def basiq_user(self, identifier: str) -> str | None:
        rows = self._read("SELECT basiq_user_id FROM users WHERE identifier = ?", identifier)
        return str(rows[0][0]) if rows else None

    def remember_user(self, identifier: str, basiq_user_id: str) -> str:
        with self._writing("the user") as db:
            db.execute(
                "INSERT INTO users (identifier, basiq_user_id, created) VALUES (?, ?, ?)"
                " ON CONFLICT (identifier) DO NOTHING",
                (identifier, basiq_user_id, self._now()),
            )
            row = db.execute(
                "SELECT basiq_user_id FROM users WHERE identifier = ?", (identifier,)
            ).fetchone()
        return str(row[0])

    def report(self, connection_id: str, basiq_user_id: str) -> None:
        stamp = self._now()
        with self._writing("the connection") as db:
            db.execute(
                "INSERT INTO reported_connections"
                " (connection_id, basiq_user_id, reported, updated) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (connection_id) DO UPDATE SET updated = excluded.updated",
                (connection_id, basiq_user_id, stamp, stamp),
            )

    def connections_of(self, basiq_user_id: str) -> list[ReportedConnection]:
        rows = self._read(
            "SELECT connection_id, basiq_user_id, reported, updated FROM reported_connections"
            " WHERE basiq_user_id = ? ORDER BY reported DESC, connection_id",
            basiq_user_id,
        )
        return [ReportedConnection(*row) for row in rows]


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

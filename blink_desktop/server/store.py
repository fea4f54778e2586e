"""The reference server's own database: who each person is at Basiq, and the connections that
apps report.

`Store` is the narrow interface the routes use, with two engines: `SqliteStore` here (WAL
mode, a file readable by its owner only, the schema versioned with PRAGMA user_version), the
default, for one machine; and `PostgresStore` (`postgres.py`), for several workers and
machines. `open_store` picks one from BLINK_DESKTOP_DATABASE_URL: a file path, or a
`postgresql://` URL.

Basiq's POST /users is not idempotent, so `user_for` creates a person's Basiq user under a lock
that every worker sharing the database honours: here SQLite's own write lock, taken on a
connection kept for it (SQLite has no finer lock across processes; the other writers wait for
it, up to the busy timeout, while Basiq answers); on PostgreSQL a lock on the identifier alone.

Before this store existed the server wrote into the desktop app's schema (versions 1 to 3,
with tables users, connections, events and outbox). Such a file is converted in place on
first open, keeping its users and the connections it recorded; this schema therefore starts
at version 4, so an older blink-desktop refuses a converted file instead of misreading it.
"""

from __future__ import annotations

import contextlib
import importlib
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

USER_WAIT = 30.0
"""Seconds a request waits for another that is creating the same person's Basiq user (Basiq
answers POST /users in well under a second; its client gives up after 23 s)."""

Clock = Callable[[], datetime]

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


class Store(Protocol):
    """What the routes need of a database. Every method may raise StoreError, and
    StoreUnavailable when the database cannot answer now."""

    def basiq_user(self, identifier: str) -> str | None:
        """The Basiq user id remembered for this identifier, if any."""

    def user_for(self, identifier: str, create: Callable[[], str]) -> str:
        """The Basiq user remembered for this identifier, or the one `create()` makes now and
        this remembers. Across every worker and instance sharing the database, one request at a
        time may create it: the others wait (up to USER_WAIT) and get the same one."""

    def report(self, connection_id: str, basiq_user_id: str) -> None:
        """Record a reported connection once; reporting it again only updates its time."""

    def connections_of(self, basiq_user_id: str) -> list[ReportedConnection]:
        """The user's reported connections, the most recently reported first."""

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
    return SqliteStore(Path(location), clock=clock)


def is_postgres_url(location: str) -> bool:
    return location.startswith(("postgresql://", "postgres://"))


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
        return timestamp(self._clock())

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

    def report(self, connection_id: str, basiq_user_id: str) -> None:
        stamp = self._now()
        with self._writing("the connection") as db:
            db.execute(
                "INSERT INTO reported_connections"
                " (connection_id, basiq_user_id, reported, updated) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (connection_id)"
                " DO UPDATE SET updated = max(updated, excluded.updated)",
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

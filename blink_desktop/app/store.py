"""The desktop app's SQLite database: users, connections, the event log and the outbox.

The schema is versioned with PRAGMA user_version and migrated in order; the file runs in WAL
mode and is readable by its owner only. Writes are small typed operations on a `Writer`, inside
one transaction (`with store.writing("the event") as tx:`); the rules of when to write what
belong to the services, not here.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from blink_desktop import sqlite_file
from blink_desktop.app.ledger_tables import LEDGER_TABLES
from blink_desktop.errors import StoreError

# Logos an older version stored as the embedded emulator's address died with its random port.
_LOCAL_LOGO = " OR ".join(
    f"logo LIKE '{scheme}://{host}'"
    for scheme in ("http", "https")
    for host in ("127.%", "localhost", "localhost:%", "localhost/%", "[::1]%", "0.0.0.0%")
)

# Each schema version is a list of statements, applied in order inside one transaction.
MIGRATIONS: list[tuple[str, ...]] = [
    (
        """CREATE TABLE users (
            identifier TEXT PRIMARY KEY,
            basiq_user_id TEXT NOT NULL,
            created TEXT NOT NULL
        )""",
        """CREATE TABLE connections (
            id TEXT PRIMARY KEY,
            basiq_user_id TEXT NOT NULL,
            institution TEXT,
            status TEXT NOT NULL,
            created TEXT NOT NULL,
            updated TEXT NOT NULL,
            last_event TEXT NOT NULL
        )""",
        """CREATE TABLE events (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            received TEXT NOT NULL,
            origin TEXT NOT NULL,
            event TEXT,
            payload TEXT NOT NULL,
            accepted INTEGER NOT NULL,
            reason TEXT
        )""",
    ),
    (
        "ALTER TABLE events ADD COLUMN job_id TEXT",
        "ALTER TABLE connections ADD COLUMN job_id TEXT",
        "ALTER TABLE connections ADD COLUMN logo TEXT",
    ),
    (
        # Reports to your server (backend mode) wait here until it acknowledges them.
        """CREATE TABLE outbox (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            connection_id TEXT NOT NULL UNIQUE,
            basiq_user_id TEXT NOT NULL,
            created TEXT NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt REAL NOT NULL DEFAULT 0,
            last_error TEXT
        )""",
    ),
    (
        # What stays true of a connection: its bank's id, and what tells it from another there.
        "ALTER TABLE connections ADD COLUMN institution_id TEXT",
        "ALTER TABLE connections ADD COLUMN detail TEXT",
        # A bank's logo as a data: URL, fetched once, so it outlives the address it came from.
        """CREATE TABLE logos (
            institution_id TEXT PRIMARY KEY,
            logo TEXT NOT NULL,
            stored TEXT NOT NULL
        )""",
        f"UPDATE connections SET logo = NULL WHERE {_LOCAL_LOGO}",
    ),
    (
        # How the person connected (Basiq 3.0: "web" or "openbanking"); unknown for older rows.
        "ALTER TABLE connections ADD COLUMN method TEXT",
    ),
    # The cached accounts and transactions, and when each connection's were fetched: a
    # connection's go with it (ON DELETE CASCADE).
    LEDGER_TABLES,
]


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class StoredConnection:
    id: str
    user_id: str
    institution: str | None
    status: str
    created: str
    updated: str
    last_event: str
    logo: str | None = None  # a data: URL (or an older row's https address), else None
    job_id: str | None = None
    institution_id: str | None = None
    detail: str | None = None  # its accounts, masked: "Everyday Account ••1234 · Savings ••5678"
    method: str | None = None  # "web" or "openbanking" where Basiq says (API 3.0)


@dataclass(frozen=True)
class Report:
    """A connection waiting in the outbox to be reported to your server."""

    id: int
    connection_id: str
    basiq_user_id: str
    created: str
    attempts: int
    next_attempt: float
    last_error: str | None


MAX_LOGGED = 64 * 1024  # characters of one message the event log keeps


def storable(text: str, limit: int) -> str:
    """Any text as SQLite can store it: lone surrogates escaped, cut at `limit` characters."""
    return text[:limit].encode("utf-8", "backslashreplace").decode("utf-8")


class Writer:
    """The typed writes of one transaction."""

    def __init__(self, db: sqlite3.Connection, stamp: str) -> None:
        self._db = db
        self.stamp = stamp

    def log_event(
        self,
        origin: str,
        raw: str,
        *,
        event: str | None,
        accepted: bool,
        reason: str | None = None,
        job_id: str | None = None,
    ) -> None:
        self._db.execute(
            "INSERT INTO events (received, origin, event, payload, accepted, reason, job_id)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                self.stamp,
                storable(origin, 2000),
                None if event is None else storable(event, 40),
                storable(raw, MAX_LOGGED),
                int(accepted),
                None if reason is None else storable(reason, 2000),
                job_id,
            ),
        )

    def upsert_connection(self, connection_id: str, basiq_user_id: str, job_id: str | None) -> None:
        """The same connection twice is one row; the event log keeps both messages."""
        self._db.execute(
            "INSERT INTO connections (id, basiq_user_id, status, created, updated, last_event,"
            " job_id) VALUES (?, ?, 'connected', ?, ?, 'connection', ?)"
            " ON CONFLICT (id) DO UPDATE SET updated = excluded.updated,"
            " last_event = excluded.last_event,"
            " job_id = COALESCE(excluded.job_id, connections.job_id)",
            (connection_id, basiq_user_id, self.stamp, self.stamp, job_id),
        )

    def adopt_connection(
        self, connection_id: str, basiq_user_id: str, *, status: str, job_id: str | None
    ) -> bool:
        """Add a connection Blink never reported; False when the store already has it."""
        added = self._db.execute(
            "INSERT INTO connections (id, basiq_user_id, status, created, updated, last_event,"
            " job_id) VALUES (?, ?, ?, ?, ?, 'found', ?) ON CONFLICT (id) DO NOTHING",
            (
                storable(connection_id, 200),
                basiq_user_id,
                storable(status, 40),
                self.stamp,
                self.stamp,
                job_id,
            ),
        )
        return added.rowcount == 1

    def remember_user(self, identifier: str, basiq_user_id: str) -> None:
        self._db.execute(
            "INSERT INTO users (identifier, basiq_user_id, created) VALUES (?, ?, ?)"
            " ON CONFLICT (identifier) DO UPDATE SET basiq_user_id = excluded.basiq_user_id",
            (identifier, basiq_user_id, self.stamp),
        )

    def set_status(self, connection_id: str, status: str, event: str) -> None:
        self._db.execute(
            "UPDATE connections SET status = ?, updated = ?, last_event = ? WHERE id = ?",
            (status, self.stamp, event, connection_id),
        )

    def describe(
        self,
        connection_id: str,
        *,
        institution_id: str,
        institution: str | None,
        detail: str | None,
        method: str | None = None,
    ) -> None:
        """Name the bank, the accounts and the method; what is None keeps what was known."""
        self._db.execute(
            "UPDATE connections SET institution_id = ?, institution = COALESCE(?, institution),"
            " detail = COALESCE(?, detail), method = COALESCE(?, method) WHERE id = ?",
            (
                storable(institution_id, 200),
                None if institution is None else storable(institution, 500),
                None if detail is None else storable(detail, 500),
                None if method is None else storable(method, 40),
                connection_id,
            ),
        )

    def set_institution(self, connection_id: str, name: str, logo: str | None) -> None:
        """The bank's name alone (and a logo's address, as older versions kept it)."""
        self._db.execute(
            "UPDATE connections SET institution = ?, logo = ? WHERE id = ?",
            (name, logo or None, connection_id),
        )

    def keep_logo(self, institution_id: str, logo: str) -> None:
        self._db.execute(
            "INSERT INTO logos (institution_id, logo, stored) VALUES (?, ?, ?)"
            " ON CONFLICT (institution_id) DO UPDATE SET logo = excluded.logo,"
            " stored = excluded.stored",
            (storable(institution_id, 200), logo, self.stamp),
        )

    def remove_connection(self, connection_id: str) -> None:
        """The connection, its report waiting in the outbox, and (ON DELETE CASCADE) its cached
        accounts and transactions; the event log keeps its history. Logs nothing itself."""
        self._db.execute("DELETE FROM outbox WHERE connection_id = ?", (connection_id,))
        self._db.execute("DELETE FROM connections WHERE id = ?", (connection_id,))

    def enqueue_report(self, connection_id: str, basiq_user_id: str) -> None:
        self._db.execute(
            "INSERT OR IGNORE INTO outbox (connection_id, basiq_user_id, created) VALUES (?, ?, ?)",
            (connection_id, basiq_user_id, self.stamp),
        )

    def report_delivered(self, report_id: int) -> None:
        self._db.execute("DELETE FROM outbox WHERE id = ?", (report_id,))

    def report_failed(self, report_id: int, error: str, next_attempt: float) -> None:
        self._db.execute(
            "UPDATE outbox SET attempts = attempts + 1, next_attempt = ?, last_error = ?"
            " WHERE id = ?",
            (next_attempt, error[:500], report_id),
        )


W = TypeVar("W", bound=Writer)


class Store:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._db = sqlite_file.connect(path)
        try:
            # A connection's cached accounts and transactions are deleted with it (ON DELETE).
            self._db.execute("PRAGMA foreign_keys = ON")
            self._migrate()
        except (sqlite3.Error, StoreError) as exc:
            self._db.close()
            if isinstance(exc, StoreError):
                raise
            raise sqlite_file.open_error(
                path, exc, what="The database", setting="BLINK_DESKTOP_DATA_DIR"
            ) from exc

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @property
    def version(self) -> int:
        return int(self._db.execute("PRAGMA user_version").fetchone()[0])

    def _migrate(self) -> None:
        current = self.version
        if current > len(MIGRATIONS):
            raise StoreError(
                f"The database {self.path} was written by a newer blink-desktop (schema "
                f"{current}); update blink-desktop."
            )
        for number, migration in enumerate(MIGRATIONS[current:], start=current + 1):
            with sqlite_file.transaction(self._db, self._lock) as db:
                for statement in migration:
                    db.execute(statement)
                db.execute(f"PRAGMA user_version = {number}")

    def writing(self, what: str) -> AbstractContextManager[Writer]:
        """One transaction; `what` names it in the error a person sees if it fails."""
        return self.writing_as(what, Writer)

    @contextmanager
    def writing_as(self, what: str, kind: type[W]) -> Iterator[W]:
        """`writing` with a Writer subclass that adds another module's typed writes."""
        with sqlite_file.writing(self._db, self._lock, self.path, what) as db:
            yield kind(db, now())

    def read(self, sql: str, *args: Any) -> list[sqlite3.Row]:
        """Rows of a query (here, and in the modules that own other tables: ledger.py)."""
        return sqlite_file.read(self._db, self._lock, self.path, sql, args)

    # users
    def basiq_user(self, identifier: str) -> str | None:
        rows = self.read("SELECT basiq_user_id FROM users WHERE identifier = ?", identifier)
        return str(rows[0][0]) if rows else None

    def last_identifier(self) -> str | None:
        rows = self.read("SELECT identifier FROM users ORDER BY created DESC LIMIT 1")
        return str(rows[0][0]) if rows else None

    # outbox
    def due_reports(self, moment: float) -> list[Report]:
        rows = self.read("SELECT * FROM outbox WHERE next_attempt <= ? ORDER BY id", moment)
        return [Report(**dict(row)) for row in rows]

    def next_report_at(self) -> float | None:
        rows = self.read("SELECT MIN(next_attempt) FROM outbox")
        return float(rows[0][0]) if rows and rows[0][0] is not None else None

    def pending_reports(self) -> list[Report]:
        return [Report(**dict(row)) for row in self.read("SELECT * FROM outbox ORDER BY id")]

    # reading
    def connection(self, connection_id: str) -> StoredConnection | None:
        rows = self.read(_CONNECTIONS + " WHERE c.id = ?", connection_id)
        return _connection(rows[0]) if rows else None

    def connections(self) -> list[StoredConnection]:
        rows = self.read(_CONNECTIONS + " ORDER BY c.created DESC, c.id")
        return [_connection(row) for row in rows]

    def logo(self, institution_id: str) -> str | None:
        rows = self.read("SELECT logo FROM logos WHERE institution_id = ?", institution_id)
        return str(rows[0][0]) if rows else None

    def events(self, limit: int | None = None) -> list[dict[str, Any]]:
        sql = "SELECT * FROM events ORDER BY seq"
        rows = self.read(sql + " LIMIT ?", limit) if limit else self.read(sql)
        return [
            {**dict(row), "accepted": bool(row["accepted"]), "payload": _maybe_json(row["payload"])}
            for row in rows
        ]


# A bank's fetched logo wins over the address an older version stored in the row.
_CONNECTIONS = (
    "SELECT c.*, COALESCE(l.logo, c.logo) AS shown_logo FROM connections AS c"
    " LEFT JOIN logos AS l ON l.institution_id = c.institution_id"
)


def _connection(row: sqlite3.Row) -> StoredConnection:
    return StoredConnection(
        id=row["id"],
        user_id=row["basiq_user_id"],
        institution=row["institution"],
        status=row["status"],
        created=row["created"],
        updated=row["updated"],
        last_event=row["last_event"],
        logo=row["shown_logo"],
        job_id=row["job_id"],
        institution_id=row["institution_id"],
        detail=row["detail"],
        method=row["method"],
    )


def _maybe_json(text: str) -> Any:
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return text

"""The local SQLite database: users, connections and the append-only event log.

The schema is versioned with PRAGMA user_version and migrated in order; the file runs in WAL
mode, is readable by its owner only, and each received event is written in one transaction.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from blink_desktop.errors import StoreError
from blink_desktop.models import Connection, StoredConnection

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
]


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Store:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            if not path.exists():
                # Create it owner-only before SQLite writes anything into it.
                os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
            os.chmod(path, 0o600)
            self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
            self._db.row_factory = sqlite3.Row
            self._db.execute("PRAGMA journal_mode = WAL")
            self._db.execute("PRAGMA synchronous = FULL")
            self._db.execute("PRAGMA busy_timeout = 5000")
            self._migrate()
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(
                f"The database {path} cannot be opened ({exc}). Check that the folder is "
                "writable and the disk is not full, or set BLINK_DESKTOP_DATA_DIR elsewhere."
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
            raise sqlite3.DatabaseError(
                f"it was written by a newer blink-desktop (schema {current}); update the app"
            )
        for number, migration in enumerate(MIGRATIONS[current:], start=current + 1):
            with self._transaction() as db:
                for statement in migration:
                    db.execute(statement)
                db.execute(f"PRAGMA user_version = {number}")

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
                f"Could not save {what} to {self.path} ({exc}). Nothing was lost; free some "
                "disk space or check the folder's permissions, then try again."
            ) from exc

    def _read(self, sql: str, *args: Any) -> list[sqlite3.Row]:
        try:
            with self._lock:
                return self._db.execute(sql, args).fetchall()
        except sqlite3.Error as exc:
            raise StoreError(f"Could not read {self.path} ({exc}).") from exc

    # users
    def basiq_user(self, identifier: str) -> str | None:
        rows = self._read("SELECT basiq_user_id FROM users WHERE identifier = ?", identifier)
        return str(rows[0][0]) if rows else None

    def remember_user(self, identifier: str, basiq_user_id: str) -> None:
        with self._writing("the user") as db:
            db.execute(
                "INSERT INTO users (identifier, basiq_user_id, created) VALUES (?, ?, ?)"
                " ON CONFLICT (identifier) DO UPDATE SET basiq_user_id = excluded.basiq_user_id",
                (identifier, basiq_user_id, now()),
            )

    def last_identifier(self) -> str | None:
        rows = self._read("SELECT identifier FROM users ORDER BY created DESC LIMIT 1")
        return str(rows[0][0]) if rows else None

    # events
    def record(
        self,
        origin: str,
        raw: str,
        *,
        event: str | None,
        accepted: bool,
        reason: str | None = None,
        basiq_user_id: str | None = None,
        institution: str | None = None,
        job_id: str | None = None,
        parsed: object | None = None,
        report: bool = False,
    ) -> StoredConnection | None:
        """Log one message and apply it, in one transaction; return the connection it touched.

        With `report`, a new connection also goes into the outbox for your server.
        """
        stamp = now()
        touched: str | None = None
        with self._writing("the event") as db:
            db.execute(
                "INSERT INTO events (received, origin, event, payload, accepted, reason, job_id)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (stamp, origin, event, raw, int(accepted), reason, job_id),
            )
            if accepted and isinstance(parsed, Connection) and parsed.payload.success:
                touched = parsed.payload.data.id
                # The same connection twice is one row; the log keeps both messages.
                db.execute(
                    "INSERT INTO connections (id, basiq_user_id, institution, status,"
                    " created, updated, last_event, job_id)"
                    " VALUES (?, ?, ?, 'connected', ?, ?, 'connection', ?)"
                    " ON CONFLICT (id) DO UPDATE SET updated = excluded.updated,"
                    " last_event = excluded.last_event,"
                    " institution = COALESCE(excluded.institution, connections.institution),"
                    " job_id = COALESCE(excluded.job_id, connections.job_id)",
                    (touched, basiq_user_id or "", institution, stamp, stamp, job_id),
                )
                if report and basiq_user_id:
                    db.execute(
                        "INSERT OR IGNORE INTO outbox (connection_id, basiq_user_id, created)"
                        " VALUES (?, ?, ?)",
                        (touched, basiq_user_id, stamp),
                    )
        return self.connection(touched) if touched else None

    def report_connection(self, connection_id: str, basiq_user_id: str) -> None:
        """A connection a client reported (the reference server's record); idempotent."""
        stamp = now()
        with self._writing("the connection") as db:
            db.execute(
                "INSERT INTO connections (id, basiq_user_id, status, created, updated, last_event)"
                " VALUES (?, ?, 'reported', ?, ?, 'report')"
                " ON CONFLICT (id) DO UPDATE SET updated = excluded.updated",
                (connection_id, basiq_user_id, stamp, stamp),
            )

    def set_status(self, connection_id: str, status: str, event: str) -> None:
        with self._writing("the connection status") as db:
            db.execute(
                "UPDATE connections SET status = ?, updated = ?, last_event = ? WHERE id = ?",
                (status, now(), event, connection_id),
            )

    def set_institution(self, connection_id: str, name: str, logo: str) -> None:
        with self._writing("the bank's name") as db:
            db.execute(
                "UPDATE connections SET institution = ?, logo = ? WHERE id = ?",
                (name, logo or None, connection_id),
            )

    # outbox
    def due_reports(self, moment: float) -> list[dict[str, Any]]:
        rows = self._read("SELECT * FROM outbox WHERE next_attempt <= ? ORDER BY id", moment)
        return [dict(row) for row in rows]

    def next_report_at(self) -> float | None:
        rows = self._read("SELECT MIN(next_attempt) FROM outbox")
        return float(rows[0][0]) if rows and rows[0][0] is not None else None

    def report_delivered(self, report_id: int) -> None:
        with self._writing("the delivered report") as db:
            db.execute("DELETE FROM outbox WHERE id = ?", (report_id,))

    def report_failed(self, report_id: int, error: str, next_attempt: float) -> None:
        with self._writing("the failed report") as db:
            db.execute(
                "UPDATE outbox SET attempts = attempts + 1, next_attempt = ?, last_error = ?"
                " WHERE id = ?",
                (next_attempt, error[:500], report_id),
            )

    def pending_reports(self) -> list[dict[str, Any]]:
        return [dict(row) for row in self._read("SELECT * FROM outbox ORDER BY id")]

    # reading
    def connection(self, connection_id: str) -> StoredConnection | None:
        rows = self._read("SELECT * FROM connections WHERE id = ?", connection_id)
        return _connection(rows[0]) if rows else None

    def connections(self) -> list[StoredConnection]:
        return [
            _connection(row)
            for row in self._read("SELECT * FROM connections ORDER BY created DESC, id")
        ]

    def events(self, limit: int | None = None) -> list[dict[str, Any]]:
        sql = "SELECT * FROM events ORDER BY seq"
        rows = self._read(sql + " LIMIT ?", limit) if limit else self._read(sql)
        return [
            {**dict(row), "accepted": bool(row["accepted"]), "payload": _maybe_json(row["payload"])}
            for row in rows
        ]


def _connection(row: sqlite3.Row) -> StoredConnection:
    return StoredConnection(
        id=row["id"],
        user_id=row["basiq_user_id"],
        institution=row["institution"],
        status=row["status"],
        created=row["created"],
        updated=row["updated"],
        last_event=row["last_event"],
        logo=row["logo"],
    )


def _maybe_json(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text

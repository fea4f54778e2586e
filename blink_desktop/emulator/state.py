"""The emulator's users, connections, jobs and consents, and the tables of its webhooks: SQLite
in memory, or in a file kept across runs.

Plain storage: rows in, rows out. The rules that decide what goes in live in rules.py and
consents.py (webhooks.py keeps its own queries, over `one`, `all` and `run`); the one timestamp
the state writes itself (a user's `created`) comes from the emulator's clock.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import threading
from pathlib import Path
from typing import Any

from blink_desktop import sqlite_file
from blink_desktop.emulator.clock import Clock, system_clock

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS users (
    id TEXT PRIMARY KEY,
    email TEXT,
    mobile TEXT,
    details TEXT NOT NULL DEFAULT '{}',
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS connections (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    institution_id TEXT NOT NULL,
    login_id TEXT NOT NULL,
    status TEXT NOT NULL,
    created REAL NOT NULL,
    last_used REAL,
    accounts_at REAL,
    transactions_at REAL,
    method TEXT NOT NULL DEFAULT 'web',
    expires REAL,
    broken INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    connection_id TEXT NOT NULL,
    institution_id TEXT NOT NULL,
    login_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    created REAL NOT NULL,
    plan TEXT NOT NULL,
    mfa_answered_at REAL,
    mfa_ok INTEGER,
    applied INTEGER NOT NULL DEFAULT 0,
    finished INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS jobs_unfinished ON jobs (finished) WHERE finished = 0;
CREATE INDEX IF NOT EXISTS connections_user ON connections (user_id);
CREATE TABLE IF NOT EXISTS consents (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    status TEXT NOT NULL,
    created REAL NOT NULL,
    updated REAL NOT NULL,
    expires REAL NOT NULL,
    revoked REAL
);
CREATE INDEX IF NOT EXISTS consents_user ON consents (user_id);
CREATE TABLE IF NOT EXISTS events (
    id TEXT PRIMARY KEY,
    type TEXT NOT NULL,
    user_id TEXT,
    created REAL NOT NULL,
    data_ref TEXT NOT NULL,
    data TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS webhooks (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    description TEXT NOT NULL,
    url TEXT NOT NULL UNIQUE,
    secret TEXT NOT NULL,
    events TEXT NOT NULL,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS deliveries (
    id TEXT PRIMARY KEY,
    webhook_id TEXT NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,
    event_id TEXT NOT NULL,
    body TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_at REAL,
    status TEXT NOT NULL DEFAULT 'pending',
    last_answer TEXT
);
CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries (next_at) WHERE status = 'pending';
"""
# Columns added after the first release of the state file: (table, column, declaration).
_ADDED_COLUMNS = (
    ("connections", "method", "TEXT NOT NULL DEFAULT 'web'"),
    ("connections", "expires", "REAL"),
    ("connections", "broken", "INTEGER NOT NULL DEFAULT 0"),
)

Row = dict[str, Any]
STATE_FILE = "The emulator's state file"


class State:
    def __init__(self, path: Path | None = None, *, clock: Clock = system_clock) -> None:
        self._clock = clock
        self._lock = threading.RLock()
        if path is None:
            self._db = sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None)
            self._db.row_factory = sqlite3.Row
        else:
            # Owner-only: the file holds the secret that signs the emulator's tokens.
            self._db = sqlite_file.connect(path, what=STATE_FILE, setting="--state")
        try:
            self._db.execute("PRAGMA foreign_keys = ON")
            self._db.executescript(_SCHEMA)
            self._add_columns()
            if self.meta("secret") is None:
                self.set_meta("secret", secrets.token_hex(32))
        except sqlite3.Error as exc:
            self._db.close()
            raise sqlite_file.open_error(
                path or Path(":memory:"), exc, what=STATE_FILE, setting="--state"
            ) from exc

    def _add_columns(self) -> None:
        """Bring a state file written by an earlier version up to this schema, in place."""
        for table, column, declaration in _ADDED_COLUMNS:
            present = {row[1] for row in self._db.execute(f"PRAGMA table_info({table})")}
            if column not in present:
                self._db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {declaration}")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def one(self, sql: str, *args: Any) -> Row | None:
        with self._lock:
            row = self._db.execute(sql, args).fetchone()
        return dict(row) if row else None

    def all(self, sql: str, *args: Any) -> list[Row]:
        with self._lock:
            return [dict(row) for row in self._db.execute(sql, args).fetchall()]

    def run(self, sql: str, *args: Any) -> int:
        with self._lock:
            return self._db.execute(sql, args).rowcount

    # meta
    def meta(self, key: str) -> str | None:
        row = self.one("SELECT value FROM meta WHERE key = ?", key)
        return row["value"] if row else None

    def set_meta(self, key: str, value: str) -> None:
        self.run("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", key, value)

    # users
    def add_user(self, user_id: str, email: str | None, mobile: str | None, details: Row) -> None:
        self.run(
            "INSERT INTO users (id, email, mobile, details, created) VALUES (?, ?, ?, ?, ?)",
            user_id,
            email,
            mobile,
            json.dumps(details),
            self._clock(),
        )

    def user(self, user_id: str) -> Row | None:
        row = self.one("SELECT * FROM users WHERE id = ?", user_id)
        if row:
            row["details"] = json.loads(row["details"])
        return row

    def update_user(
        self, user_id: str, email: str | None, mobile: str | None, details: Row
    ) -> None:
        self.run(
            "UPDATE users SET email = ?, mobile = ?, details = ? WHERE id = ?",
            email,
            mobile,
            json.dumps(details),
            user_id,
        )

    def count_users(self) -> int:
        row = self.one("SELECT COUNT(*) AS n FROM users")
        return int(row["n"]) if row else 0

    def delete_user(self, user_id: str) -> bool:
        return self.run("DELETE FROM users WHERE id = ?", user_id) > 0

    # connections
    def add_connection(self, row: Row) -> None:
        columns = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        self.run(f"INSERT INTO connections ({columns}) VALUES ({marks})", *row.values())

    def connection(self, connection_id: str) -> Row | None:
        return self.one("SELECT * FROM connections WHERE id = ?", connection_id)

    def connections(self, user_id: str) -> list[Row]:
        return self.all("SELECT * FROM connections WHERE user_id = ? ORDER BY created, id", user_id)

    def duplicate(self, user_id: str, institution_id: str, login_id: str) -> Row | None:
        return self.one(
            "SELECT * FROM connections WHERE user_id = ? AND institution_id = ? AND login_id = ?",
            user_id,
            institution_id,
            login_id,
        )

    def update_connection(self, connection_id: str, **values: Any) -> None:
        assignments = ", ".join(f"{column} = ?" for column in values)
        self.run(
            f"UPDATE connections SET {assignments} WHERE id = ?", *values.values(), connection_id
        )

    def delete_connection(self, connection_id: str) -> bool:
        return self.run("DELETE FROM connections WHERE id = ?", connection_id) > 0

    # jobs
    def add_job(self, row: Row) -> None:
        row = {**row, "plan": json.dumps(row["plan"])}
        columns = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        self.run(f"INSERT INTO jobs ({columns}) VALUES ({marks})", *row.values())

    def job(self, job_id: str) -> Row | None:
        return _decode_job(self.one("SELECT * FROM jobs WHERE id = ?", job_id))

    def jobs(self, user_id: str, since: float) -> list[Row]:
        rows = self.all(
            "SELECT * FROM jobs WHERE user_id = ? AND created >= ? ORDER BY created DESC, id",
            user_id,
            since,
        )
        return [job for job in map(_decode_job, rows) if job]

    def unfinished_jobs(self) -> list[Row]:
        rows = self.all("SELECT * FROM jobs WHERE finished = 0 ORDER BY created")
        return [job for job in map(_decode_job, rows) if job]

    def update_job(self, job_id: str, **values: Any) -> None:
        assignments = ", ".join(f"{column} = ?" for column in values)
        self.run(f"UPDATE jobs SET {assignments} WHERE id = ?", *values.values(), job_id)

    def count_jobs(self, user_id: str, institution_id: str) -> int:
        row = self.one(
            "SELECT COUNT(*) AS n FROM jobs"
            " WHERE user_id = ? AND institution_id = ? AND kind = 'create'",
            user_id,
            institution_id,
        )
        return int(row["n"]) if row else 0

    # consents
    def add_consent(self, row: Row) -> None:
        columns = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        self.run(f"INSERT INTO consents ({columns}) VALUES ({marks})", *row.values())

    def consents(self, user_id: str) -> list[Row]:
        return self.all(
            "SELECT * FROM consents WHERE user_id = ? ORDER BY created DESC, id", user_id
        )

    def update_consent(self, consent_id: str, **values: Any) -> None:
        assignments = ", ".join(f"{column} = ?" for column in values)
        self.run(f"UPDATE consents SET {assignments} WHERE id = ?", *values.values(), consent_id)


def _decode_job(row: Row | None) -> Row | None:
    if row:
        row["plan"] = json.loads(row["plan"])
    return row

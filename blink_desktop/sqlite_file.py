"""The SQLite file habits every store shares: owner-only, WAL, and errors a person can act on.

The desktop app's store, the reference server's store and the emulator's state all open their
file here, so a damaged file, a file where a folder should be, or a read-only folder gets the
same clear message wherever it happens, and nothing is ever deleted to "fix" it.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from blink_desktop.errors import StoreError


def connect(
    path: Path, *, what: str = "The database", setting: str = "BLINK_DESKTOP_DATA_DIR"
) -> sqlite3.Connection:
    """Open (creating owner-only) a WAL database in autocommit mode, usable from any thread.

    SQLite gives the -wal and -shm files the main file's mode, so they are owner-only too.
    """
    db: sqlite3.Connection | None = None
    try:
        if path.parent.exists() and not path.parent.is_dir():
            raise NotADirectoryError
        path.parent.mkdir(parents=True, exist_ok=True)
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
        os.chmod(path, 0o600)
        db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        db.row_factory = sqlite3.Row
        # Several threads or processes may open the file at once: wait for each other.
        db.execute("PRAGMA busy_timeout = 5000")
        _switch_to_wal(db)
        db.execute("PRAGMA synchronous = FULL")
        db.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
        return db
    except (OSError, sqlite3.Error) as exc:
        if db is not None:
            db.close()
        raise open_error(path, exc, what=what, setting=setting) from exc


def open_error(path: Path, exc: BaseException, *, what: str, setting: str) -> StoreError:
    """What went wrong opening `path`, and what to do, in words a person can act on."""
    if isinstance(exc, NotADirectoryError | FileExistsError):
        return StoreError(
            f"{what} cannot be kept in {path.parent}: something on that path is a file, not a "
            f"folder. Move that file away, or choose another place with {setting}."
        )
    if isinstance(exc, sqlite3.DatabaseError) and not isinstance(exc, sqlite3.OperationalError):
        return StoreError(
            f"{what} {path} is damaged ({exc}). Nothing was changed in it. Move it aside (rename "
            f"it to {path.name}.damaged, say) and start again to begin a new one."
        )
    return StoreError(
        f"{what} {path} cannot be opened ({exc}). Check that the folder is writable and the "
        f"disk is not full, or choose another place with {setting}."
    )


@contextmanager
def transaction(db: sqlite3.Connection, lock: threading.Lock) -> Iterator[sqlite3.Connection]:
    """BEGIN IMMEDIATE … COMMIT, rolled back on any error, one thread at a time."""
    with lock:
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")


@contextmanager
def writing(
    db: sqlite3.Connection, lock: threading.Lock, path: Path, what: str
) -> Iterator[sqlite3.Connection]:
    """A `transaction` whose failure is a StoreError naming `what` was not saved, and why."""
    try:
        with transaction(db, lock) as inside:
            yield inside
    except sqlite3.Error as exc:
        raise StoreError(
            f"Could not save {what} to {path} ({exc}), so it was not saved. Free some disk "
            "space or check the folder's permissions, then retry."
        ) from exc


def read(
    db: sqlite3.Connection, lock: threading.Lock, path: Path, sql: str, args: tuple[Any, ...]
) -> list[sqlite3.Row]:
    """A query's rows, one thread at a time; a failure is a StoreError naming the file."""
    try:
        with lock:
            return db.execute(sql, args).fetchall()
    except sqlite3.Error as exc:
        raise StoreError(f"Could not read {path} ({exc}).") from exc


def _switch_to_wal(db: sqlite3.Connection, patience: float = 5.0) -> None:
    # Switching a new file to WAL takes an exclusive lock and, unlike other statements, can
    # answer "database is locked" at once instead of waiting on busy_timeout when several
    # processes open the file together; so wait here, as long as busy_timeout would.
    deadline = time.monotonic() + patience
    while True:
        try:
            db.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() >= deadline:
                raise
            time.sleep(0.01)

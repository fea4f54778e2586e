"""sqlite_file: owner-only WAL files, and failures as errors a person can act on."""

from __future__ import annotations

import sqlite3
import stat
import threading
from pathlib import Path

import pytest

from blink_desktop import sqlite_file
from blink_desktop.errors import StoreError


def open_table(path: Path) -> sqlite3.Connection:
    db = sqlite_file.connect(path)
    db.execute("CREATE TABLE notes (text TEXT NOT NULL)")
    return db


def test_a_new_file_is_owner_only_and_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "notes.sqlite"
    db = sqlite_file.connect(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_failed_write_names_what_was_not_saved_and_keeps_what_was(tmp_path: Path) -> None:
    path = tmp_path / "notes.sqlite"
    db, lock = open_table(path), threading.Lock()
    with sqlite_file.writing(db, lock, path, "the first note") as tx:
        tx.execute("INSERT INTO notes VALUES ('kept')")
    with (
        pytest.raises(StoreError, match=r"Could not save the second note to .*notes\.sqlite"),
        sqlite_file.writing(db, lock, path, "the second note") as tx,
    ):
        tx.execute("INSERT INTO notes VALUES ('rolled back')")
        tx.execute("INSERT INTO notes VALUES (NULL)")  # NOT NULL: the transaction fails
    assert sqlite_file.read(db, lock, path, "SELECT text FROM notes", ())[0][0] == "kept"
    assert len(sqlite_file.read(db, lock, path, "SELECT * FROM notes", ())) == 1


def test_a_failed_read_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "notes.sqlite"
    db = open_table(path)
    with pytest.raises(StoreError, match=r"Could not read .*notes\.sqlite \(no such table"):
        sqlite_file.read(db, threading.Lock(), path, "SELECT * FROM missing", ())


def test_a_file_where_the_folder_should_be_is_named(tmp_path: Path) -> None:
    (tmp_path / "data").write_text("not a folder")
    with pytest.raises(StoreError, match="something on that path is a file, not a folder"):
        sqlite_file.connect(tmp_path / "data" / "notes.sqlite")
    assert (tmp_path / "data").read_text() == "not a folder"

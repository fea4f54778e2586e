"""The server's own database: its schema, its operations, the previous version's file."""

from __future__ import annotations

import sqlite3
import stat
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from blink_desktop.errors import StoreError
from blink_desktop.server.store import VERSION, ReportedConnection, SqliteStore
from tests.server.conftest import previous_servers_file


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def tables(path: Path) -> set[str]:
    rows = sqlite3.connect(path).execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
    )
    return {str(row[0]) for row in rows}


def test_a_new_database_is_owner_only_wal_and_current(tmp_path: Path) -> None:
    path = tmp_path / "data" / "server.sqlite"
    store = SqliteStore(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert store.version == VERSION == 4
    assert sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert tables(path) == {"users", "reported_connections"}
    store.close()


def test_the_first_user_remembered_for_an_identifier_wins(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "server.sqlite")
    assert store.basiq_user("me@x.co") is None
    assert store.remember_user("me@x.co", "u1") == "u1"
    assert store.remember_user("me@x.co", "u-raced") == "u1"
    assert store.basiq_user("me@x.co") == "u1"
    assert store.basiq_user("0412345678") is None


def test_reporting_again_keeps_the_first_report_and_moves_the_update(tmp_path: Path) -> None:
    clock = Clock()
    store = SqliteStore(tmp_path / "server.sqlite", clock=clock)
    store.report("c1", "u1")
    clock.advance(60)
    store.report("c2", "u1")
    store.report("c0", "u1")
    store.report("c9", "u2")
    clock.advance(60)
    store.report("c1", "u1")
    store.report("c1", "u-other")  # a connection belongs to the user who reported it first
    assert store.connections_of("u1") == [
        ReportedConnection("c0", "u1", "2026-03-01T12:01:00.000Z", "2026-03-01T12:01:00.000Z"),
        ReportedConnection("c2", "u1", "2026-03-01T12:01:00.000Z", "2026-03-01T12:01:00.000Z"),
        ReportedConnection("c1", "u1", "2026-03-01T12:00:00.000Z", "2026-03-01T12:02:00.000Z"),
    ]
    assert [c.connection_id for c in store.connections_of("u2")] == ["c9"]
    assert store.connections_of("u-other") == []


def test_a_users_connections_are_found_by_the_index(tmp_path: Path) -> None:
    path = tmp_path / "server.sqlite"
    store = SqliteStore(path)
    for n in range(50):
        store.report(f"c{n}", f"u{n % 5}")
    run: list[str] = []
    store._db.set_trace_callback(run.append)
    assert len(store.connections_of("u3")) == 10
    store._db.set_trace_callback(None)
    [query] = [sql for sql in run if sql.lstrip().upper().startswith("SELECT")]
    plan = " ".join(
        str(row[-1]) for row in sqlite3.connect(path).execute("EXPLAIN QUERY PLAN " + query)
    )
    assert "USING INDEX reported_connections_by_user" in plan, plan
    assert "SCAN reported_connections" not in plan, plan


@pytest.mark.parametrize("version", [1, 2, 3])
def test_the_previous_servers_file_is_converted_keeping_its_records(
    tmp_path: Path, version: int
) -> None:
    path = tmp_path / "server.sqlite"
    previous_servers_file(path, version)
    store = SqliteStore(path, clock=Clock())
    assert store.version == VERSION
    assert tables(path) == {"users", "reported_connections"}
    assert (store.basiq_user("me@x.co"), store.basiq_user("you@x.co")) == ("u1", "u2")
    assert store.connections_of("u1") == [
        ReportedConnection("c2", "u1", "2026-01-04T00:00:00.000Z", "2026-01-04T00:00:00.000Z"),
        ReportedConnection("c1", "u1", "2026-01-03T00:00:00.000Z", "2026-01-05T00:00:00.000Z"),
    ]
    store.report("c4", "u2")
    assert [c.connection_id for c in store.connections_of("u2")] == ["c4", "c3"]
    store.close()
    assert SqliteStore(path).connections_of("u2")[1].connection_id == "c3"  # converted once


def test_the_desktop_apps_database_is_refused_without_touching_it(tmp_path: Path) -> None:
    path = tmp_path / "blink.db"
    previous_servers_file(path)
    db = sqlite3.connect(path)
    db.execute(
        "INSERT INTO events (received, origin, event, payload, accepted) VALUES"
        " ('t', 'http://blink', 'connection', '{}', 1)"
    )
    db.commit()
    db.close()
    with pytest.raises(StoreError, match="the desktop app's database"):
        SqliteStore(path)
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == 3
    assert tables(path) == {"users", "connections", "events", "outbox"}


def test_a_newer_schema_is_refused_without_touching_it(tmp_path: Path) -> None:
    path = tmp_path / "server.sqlite"
    sqlite3.connect(path).execute("PRAGMA user_version = 99").connection.commit()
    with pytest.raises(StoreError, match="newer blink-desktop"):
        SqliteStore(path)
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == 99


def test_unwritable_folder_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(StoreError, match="is a file, not a folder.*BLINK_DESKTOP_DATA_DIR"):
        SqliteStore(blocker / "server.sqlite")


def test_full_disk_gives_a_clear_error_and_keeps_what_was_stored(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "server.sqlite")
    store.report("c1", "u1")
    pages = store._db.execute("PRAGMA page_count").fetchone()[0]
    store._db.execute(f"PRAGMA max_page_count = {pages}")  # the disk is now "full"
    with pytest.raises(StoreError, match="Could not save the user .*disk space"):
        store.remember_user("x" * 200_000, "u1")
    assert [c.connection_id for c in store.connections_of("u1")] == ["c1"]


def test_workers_opening_a_new_file_at_once_create_it_once(tmp_path: Path) -> None:
    path = tmp_path / "server.sqlite"
    opened: list[SqliteStore] = []
    errors: list[BaseException] = []
    start = threading.Barrier(6)

    def open_it() -> None:
        start.wait()
        try:
            opened.append(SqliteStore(path))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=open_it) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert [store.version for store in opened] == [VERSION] * 6


def test_concurrent_reports_from_several_threads_lose_nothing(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "server.sqlite")
    errors: list[BaseException] = []

    def report(worker: int) -> None:
        try:
            for n in range(50):
                store.report(f"c{worker}-{n % 10}", f"u{worker}")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=report, args=(worker,)) for worker in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert [len(store.connections_of(f"u{worker}")) for worker in range(8)] == [10] * 8
    other = SqliteStore(tmp_path / "server.sqlite")  # another worker sees every commit
    assert len(other.connections_of("u7")) == 10

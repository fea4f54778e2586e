"""The server's own database: its operations on both engines, then SQLite's file (its schema,
the previous version's file, a full disk)."""

from __future__ import annotations

import itertools
import sqlite3
import stat
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

import pytest

from blink_desktop.errors import StoreError
from blink_desktop.server import sqlite
from blink_desktop.server.sqlite import VERSION, SqliteStore
from blink_desktop.server.store import ReportedConnection, Store, open_store
from tests.conftest import at_once
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


Opener = Callable[..., Store]


@pytest.fixture
def opened(database: Path | str) -> Iterator[Opener]:
    """Opens stores on the test's database, each engine in turn; several stores on one
    database are several workers. All are closed after the test."""
    stores: list[Store] = []

    def open_one(clock: Callable[[], datetime] | None = None) -> Store:
        store = open_store(database, clock=clock) if clock else open_store(database)
        stores.append(store)
        return store

    yield open_one
    for store in stores:
        store.close()


def created_in_turn() -> Callable[[], str]:
    """A stand-in for Basiq's POST /users: a new id each call, u1, u2, …"""
    numbers = itertools.count(1)
    return lambda: f"u{next(numbers)}"


def test_a_person_is_created_once_then_found(opened: Opener) -> None:
    store = opened()
    create = created_in_turn()
    assert store.basiq_user("me@x.co") is None
    assert store.user_for("me@x.co", create) == "u1"
    assert store.user_for("me@x.co", create) == "u1"
    assert opened().user_for("me@x.co", create) == "u1"  # another worker
    assert store.basiq_user("me@x.co") == "u1"
    assert store.user_for("0412345678", create) == "u2"
    assert store.basiq_user("you@x.co") is None
    store.check()


def test_a_creation_that_fails_remembers_nothing(opened: Opener) -> None:
    store = opened()

    def fails() -> str:
        raise RuntimeError("Basiq said no")

    with pytest.raises(RuntimeError, match="Basiq said no"):
        store.user_for("me@x.co", fails)
    assert store.basiq_user("me@x.co") is None
    assert store.user_for("me@x.co", created_in_turn()) == "u1"


def test_many_workers_asking_at_once_create_one_user(opened: Opener) -> None:
    """Two stores (two worker processes, or two instances), eight threads each: one creation,
    and every request gets its id."""
    stores = [opened(), opened()]
    threads = 16
    calls: list[int] = []
    arrived = threading.Semaphore(0)
    everyone_asked = threading.Event()
    results: list[str] = []
    errors: list[BaseException] = []

    def create() -> str:
        calls.append(1)
        # Hold the creation until every thread has asked, so that they all ask while it runs.
        everyone_asked.wait(timeout=10)
        return f"u{len(calls)}"

    def ask(n: int) -> None:
        arrived.release()
        try:
            results.append(stores[n % 2].user_for("new@x.co", create))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    workers = [threading.Thread(target=ask, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for _ in range(threads):
        assert arrived.acquire(timeout=10)
    everyone_asked.set()
    for worker in workers:
        worker.join(timeout=30)
    assert errors == []
    assert (len(calls), results) == (1, ["u1"] * threads)


def test_reporting_again_keeps_the_first_report_and_moves_the_update(opened: Opener) -> None:
    clock = Clock()
    store = opened(clock)
    store.report("c1", "u1")
    clock.advance(60)
    store.report("c2", "u1")
    store.report("c0", "u1")
    store.report("c9", "u2")
    clock.advance(60)
    assert store.report("c1", "u1") == "u1"
    clock.advance(30)
    # A connection belongs to the user it was first reported for: another's report is told
    # so, and changes nothing (not even the time).
    assert store.report("c1", "u-other") == "u1"
    clock.advance(-150)
    store.report("c2", "u1")  # a late retry, from a clock behind: the update never goes back
    assert store.connections_of("u1") == [
        ReportedConnection("c0", "u1", "2026-03-01T12:01:00.000Z", "2026-03-01T12:01:00.000Z"),
        ReportedConnection("c2", "u1", "2026-03-01T12:01:00.000Z", "2026-03-01T12:01:00.000Z"),
        ReportedConnection("c1", "u1", "2026-03-01T12:00:00.000Z", "2026-03-01T12:02:00.000Z"),
    ]
    assert [c.connection_id for c in store.connections_of("u2")] == ["c9"]
    assert store.connections_of("u-other") == []


def test_reports_retried_at_once_by_many_workers_are_one_row_each(opened: Opener) -> None:
    stores = [opened(), opened()]

    def report(worker: int) -> None:
        for n in range(40):
            stores[worker % 2].report(f"c{n % 10}", "u1")  # each sent 32 times in all
            stores[worker % 2].report(f"c{worker}-{n % 5}", f"w{worker}")

    at_once([partial(report, worker) for worker in range(8)])  # an error fails the test
    listed = stores[0].connections_of("u1")
    assert sorted(c.connection_id for c in listed) == sorted(f"c{n}" for n in range(10))
    assert [len(stores[1].connections_of(f"w{worker}")) for worker in range(8)] == [5] * 8


def test_a_user_from_before_clients_is_claimed_by_one_client_however_many_ask(
    opened: Opener,
) -> None:
    stores = [opened(), opened()]
    user = stores[0].user_for("me@x.co", lambda: "u1")  # no client recorded for it
    answers = at_once(
        [partial(stores[worker % 2].admits, user, f"client-{worker}") for worker in range(6)]
    )
    [winner] = [f"client-{worker}" for worker, admits in enumerate(answers) if admits]
    assert all(store.admits(user, winner) for store in stores)
    assert not stores[0].admits(user, "client-9")


# SQLite's file


def test_a_new_database_is_owner_only_wal_and_current(tmp_path: Path) -> None:
    path = tmp_path / "data" / "server.sqlite"
    store = SqliteStore(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert store.version == VERSION == 6
    assert sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert tables(path) == {"users", "reported_connections", "webhooks", "user_clients"}
    store.close()


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
    assert tables(path) == {"users", "reported_connections", "webhooks", "user_clients"}
    assert (store.basiq_user("me@x.co"), store.basiq_user("you@x.co")) == ("u1", "u2")
    assert store.connections_of("u1") == [
        ReportedConnection("c2", "u1", "2026-01-04T00:00:00.000Z", "2026-01-04T00:00:00.000Z"),
        ReportedConnection("c1", "u1", "2026-01-03T00:00:00.000Z", "2026-01-05T00:00:00.000Z"),
    ]
    store.report("c4", "u2")
    assert [c.connection_id for c in store.connections_of("u2")] == ["c4", "c3"]
    store.close()
    assert SqliteStore(path).connections_of("u2")[1].connection_id == "c3"  # converted once


def test_the_last_versions_file_gains_the_webhooks_keeping_its_records(tmp_path: Path) -> None:
    path = tmp_path / "server.sqlite"
    db = sqlite3.connect(path)
    for statement in sqlite.SCHEMA:  # version 4, as the release before webhooks left it
        db.execute(statement)
    db.execute("PRAGMA user_version = 4")
    db.execute("INSERT INTO users VALUES ('me@x.co', 'u1', '2026-01-01T00:00:00.000Z')")
    db.commit()
    db.close()
    store = SqliteStore(path)
    assert (store.version, store.basiq_user("me@x.co")) == (6, "u1")
    assert tables(path) == {"users", "reported_connections", "webhooks", "user_clients"}
    assert store.admits("u1", "first-client")  # a user from before: the first asking claims it
    assert not store.admits("u1", "another-client")
    store.close()


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
    for db in (store._db, store._creator):  # the disk is now "full"
        db.execute(f"PRAGMA max_page_count = {pages}")
    with pytest.raises(StoreError, match="Could not save the user .*disk space"):
        store.user_for("x" * 200_000, lambda: "u1")
    assert [c.connection_id for c in store.connections_of("u1")] == ["c1"]


def test_workers_opening_a_new_file_at_once_create_it_once(tmp_path: Path) -> None:
    path = tmp_path / "server.sqlite"
    opened = at_once([partial(SqliteStore, path) for _ in range(6)])  # an error fails the test
    assert [store.version for store in opened] == [VERSION] * 6

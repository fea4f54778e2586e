"""The store on PostgreSQL: its migrations, its locks, and a database that stops answering."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from functools import partial

import psycopg
import pytest

from blink_desktop.errors import StoreError
from blink_desktop.server import postgres, postgres_schema
from blink_desktop.server.postgres import PostgresStore, safe_url
from blink_desktop.server.postgres_schema import VERSION
from blink_desktop.server.store import StoreUnavailable
from harness.ports import free_port
from tests.conftest import at_once, wait_for
from tests.server.database import Postgres


@pytest.fixture
def url(postgres: Postgres) -> str:
    return postgres.new_schema()


@pytest.fixture
def store(url: str) -> Iterator[PostgresStore]:
    opened = PostgresStore(url)
    yield opened
    opened.close()


def test_instances_starting_at_once_migrate_once(url: str) -> None:
    opened = at_once([partial(PostgresStore, url) for _ in range(6)])  # an error fails the test
    try:
        assert [store.version for store in opened] == [VERSION] * 6
        with psycopg.connect(url) as conn:
            assert conn.execute("SELECT count(*) FROM blink_desktop_schema").fetchone() == (1,)
    finally:
        for store in opened:
            store.close()


def test_the_last_versions_schema_gains_the_webhooks_keeping_its_records(url: str) -> None:
    with psycopg.connect(url) as conn:  # version 1, as the release before webhooks left it
        for statement in postgres_schema.MIGRATIONS[0]:
            conn.execute(statement)
        conn.execute("CREATE TABLE blink_desktop_schema (version integer NOT NULL)")
        conn.execute("INSERT INTO blink_desktop_schema VALUES (1)")
        conn.execute("INSERT INTO users VALUES ('me@x.co', 'u1', now())")
    store = PostgresStore(url)
    try:
        assert (store.version, store.basiq_user("me@x.co")) == (VERSION, "u1") == (3, "u1")
        assert store.connection_events("u1") == []
        assert store.admits("u1", "first-client")  # from before: the first asking claims it
        assert not store.admits("u1", "another-client")
    finally:
        store.close()


def test_a_newer_schema_is_refused_without_touching_it(url: str) -> None:
    PostgresStore(url).close()
    with psycopg.connect(url) as conn:
        conn.execute("UPDATE blink_desktop_schema SET version = 99")
    with pytest.raises(StoreError, match=r"newer blink-desktop \(schema 99\)"):
        PostgresStore(url)
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT version FROM blink_desktop_schema").fetchone() == (99,)


def test_a_users_connections_are_found_by_the_index(store: PostgresStore, url: str) -> None:
    for n in range(50):
        store.report(f"c{n}", f"u{n % 5}")
    assert len(store.connections_of("u3")) == 10
    with psycopg.connect(url) as conn:
        conn.execute("SET enable_seqscan = off")  # 50 rows: the planner would rather scan
        conn.execute("SET enable_bitmapscan = off")
        plan = conn.execute(
            "EXPLAIN SELECT connection_id, basiq_user_id, reported, updated"
            " FROM reported_connections WHERE basiq_user_id = 'u3'"
            " ORDER BY reported DESC, connection_id"
        ).fetchall()
    text = " ".join(str(row[0]) for row in plan)
    assert "reported_connections_by_user" in text and "Sort" not in text, text


def test_an_unreachable_database_at_start_is_a_clear_error_and_no_secret() -> None:
    url = f"postgresql://blink:hunter2@127.0.0.1:{free_port()}/blink"
    started = time.monotonic()
    with pytest.raises(StoreError) as caught:
        PostgresStore(url)
    assert time.monotonic() - started < 10
    message = str(caught.value)
    assert "postgresql://blink@127.0.0.1:" in message and "cannot be reached" in message
    assert "BLINK_DESKTOP_DATABASE_URL" in message and "hunter2" not in message


def test_a_url_libpq_refuses_is_a_clear_error() -> None:
    with pytest.raises(StoreError, match="is not a PostgreSQL URL"):
        PostgresStore("postgresql://x/y?nonsense=1")
    assert safe_url("postgresql://me:secret@db.example:5433/blink?sslmode=require") == (
        "postgresql://me@db.example:5433/blink"
    )


def test_a_request_waits_for_a_creation_only_so_long(
    store: PostgresStore, url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(postgres, "USER_WAIT", 0.5)
    creating = threading.Event()
    finish = threading.Event()
    results: list[str] = []

    def slow() -> str:
        creating.set()
        finish.wait(timeout=10)
        return "u1"

    creator = threading.Thread(target=lambda: results.append(store.user_for("me@x.co", slow)))
    creator.start()
    try:
        assert creating.wait(timeout=10)
        other = PostgresStore(url)  # another instance
        try:
            with pytest.raises(StoreUnavailable) as caught:
                other.user_for("me@x.co", lambda: "u-duplicate")
            assert (caught.value.code, caught.value.retry_after) == ("user-being-created", 2)
            assert other.user_for("you@x.co", lambda: "u2") == "u2"  # others are not held up
        finally:
            other.close()
    finally:
        finish.set()
        creator.join(timeout=10)
    assert results == ["u1"]
    assert store.basiq_user("me@x.co") == "u1"


def test_a_database_that_stops_is_unavailable_then_found_again(
    url: str, postgres: Postgres, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="blink_desktop.server")
    store = PostgresStore(url, wait=0.5)
    store.report("c1", "u1")
    postgres.stop()
    try:
        for _ in range(3):
            started = time.monotonic()
            with pytest.raises(StoreUnavailable) as caught:
                store.report("c2", "u1")
            assert time.monotonic() - started < 0.5 + 2
            assert caught.value.code == "database-unavailable"
        with pytest.raises(StoreUnavailable):
            store.check()
    finally:
        postgres.start()
    try:
        wait_for(lambda: _answers(store), timeout=20)
        store.report("c2", "u1")
        assert [c.connection_id for c in store.connections_of("u1")] == ["c2", "c1"]
    finally:
        store.close()
    lines = [r.getMessage() for r in caplog.records if r.name == "blink_desktop.server"]
    down = [line for line in lines if "is not answering" in line]
    assert len(down) == 1, lines  # once per outage, not once per request
    assert any("answers again" in line for line in lines), lines


def _answers(store: PostgresStore) -> bool:
    try:
        store.check()
    except StoreUnavailable:
        return False
    return True

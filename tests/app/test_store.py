"""The local database: schema versions, idempotent connections, threads, permissions, full disk."""

from __future__ import annotations

import json
import sqlite3
import stat
from functools import partial
from pathlib import Path

import pytest

from blink_desktop.app.store import MIGRATIONS, Store
from blink_desktop.errors import StoreError
from tests.conftest import at_once

SUCCESS = '{"event":"connection","payload":{"success":true,"data":{"id":"conn-1"}}}'


def record_success(store: Store, raw: str = SUCCESS) -> None:
    """What the connect service writes for a successful connection message: one transaction."""
    connection_id = json.loads(raw)["payload"]["data"]["id"]
    with store.writing("the event") as tx:
        tx.log_event("http://blink", raw, event="connection", accepted=True)
        tx.upsert_connection(connection_id, "u1", None)


def test_new_database_is_owner_only_wal_and_current(tmp_path: Path) -> None:
    store = Store(tmp_path / "data" / "blink.db")
    assert stat.S_IMODE((tmp_path / "data" / "blink.db").stat().st_mode) == 0o600
    assert store.version == len(MIGRATIONS)
    mode = (
        sqlite3.connect(tmp_path / "data" / "blink.db").execute("PRAGMA journal_mode").fetchone()[0]
    )
    assert mode == "wal"


def test_the_same_connection_twice_is_one_row_and_two_log_entries(tmp_path: Path) -> None:
    store = Store(tmp_path / "blink.db")
    record_success(store)
    record_success(store)
    assert [c.id for c in store.connections()] == ["conn-1"]
    assert [e["event"] for e in store.events()] == ["connection", "connection"]


def test_rejected_messages_are_logged_with_their_reason(tmp_path: Path) -> None:
    store = Store(tmp_path / "blink.db")
    with store.writing("the event") as tx:
        tx.log_event(
            "http://evil", "{not json", event=None, accepted=False, reason="message is not JSON"
        )
    [event] = store.events()
    assert (event["accepted"], event["reason"], event["origin"]) == (
        False,
        "message is not JSON",
        "http://evil",
    )
    assert store.connections() == []


def test_migrates_a_version_1_database_keeping_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    db = sqlite3.connect(path)
    for statement in MIGRATIONS[0]:
        db.execute(statement)
    db.execute("PRAGMA user_version = 1")
    db.execute(
        "INSERT INTO connections VALUES"
        " ('old-conn', 'u1', 'Hooli', 'connected', 't0', 't0', 'connection')"
    )
    db.execute("INSERT INTO users VALUES ('me@x.co', 'u1', 't0')")
    db.commit()
    db.close()
    store = Store(path)
    assert store.version == len(MIGRATIONS)
    [old] = store.connections()
    assert (old.id, old.institution, old.logo) == ("old-conn", "Hooli", None)
    assert store.basiq_user("me@x.co") == "u1"
    record_success(store)
    assert {c.id for c in store.connections()} == {"old-conn", "conn-1"}


def test_a_newer_schema_is_refused_without_touching_it(tmp_path: Path) -> None:
    path = tmp_path / "new.db"
    sqlite3.connect(path).execute("PRAGMA user_version = 99").connection.commit()
    with pytest.raises(StoreError, match="newer blink-desktop"):
        Store(path)
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == 99


def test_concurrent_writers_from_several_threads_lose_nothing(tmp_path: Path) -> None:
    store = Store(tmp_path / "blink.db")

    def write(worker: int) -> None:
        for n in range(50):
            data = {"id": f"c{worker}-{n % 10}"}
            raw = json.dumps({"event": "connection", "payload": {"success": True, "data": data}})
            record_success(store, raw)

    at_once([partial(write, worker) for worker in range(8)])  # a writer's error fails the test
    assert len(store.events()) == 400
    assert len(store.connections()) == 80
    other = Store(tmp_path / "blink.db")  # a second process-like reader sees every commit
    assert len(other.events()) == 400


def test_full_disk_gives_a_clear_error_and_keeps_what_was_stored(tmp_path: Path) -> None:
    store = Store(tmp_path / "blink.db")
    record_success(store)
    pages = store._db.execute("PRAGMA page_count").fetchone()[0]
    store._db.execute(f"PRAGMA max_page_count = {pages}")  # the disk is now "full"
    big = "x" * 200_000
    with pytest.raises(StoreError, match="disk space"), store.writing("the event") as tx:
        tx.log_event("http://blink", big, event=None, accepted=False, reason="too big")
    assert [c.id for c in store.connections()] == ["conn-1"]
    assert len(store.events()) == 1


def test_unwritable_folder_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(StoreError, match="BLINK_DESKTOP_DATA_DIR"):
        Store(blocker / "blink.db")


def test_users_map_identifiers_to_basiq_ids(tmp_path: Path) -> None:
    store = Store(tmp_path / "blink.db")
    assert store.basiq_user("me@x.co") is None
    for _ in range(2):
        with store.writing("the user") as tx:
            tx.remember_user("me@x.co", "u1")
    assert store.basiq_user("me@x.co") == "u1"
    assert store.last_identifier() == "me@x.co"


def test_a_damaged_file_is_named_and_left_as_it_was(tmp_path: Path) -> None:
    damaged = tmp_path / "blink.db"
    damaged.write_bytes(b"\x00garbage" * 512)
    with pytest.raises(StoreError, match="is damaged") as caught:
        Store(damaged)
    assert "disk" not in str(caught.value)
    assert damaged.read_bytes() == b"\x00garbage" * 512


def test_a_folder_that_is_a_file_is_named_as_such(tmp_path: Path) -> None:
    (tmp_path / "data").write_text("")
    with pytest.raises(StoreError, match="is a file, not a folder.*BLINK_DESKTOP_DATA_DIR"):
        Store(tmp_path / "data" / "blink.db")


def test_the_write_ahead_log_is_owner_only_too(tmp_path: Path) -> None:
    store = Store(tmp_path / "blink.db")
    record_success(store)
    for suffix in ("", "-wal", "-shm"):
        path = tmp_path / f"blink.db{suffix}"
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    store.close()


def test_logos_with_the_emulators_dead_address_are_dropped_on_upgrade(tmp_path: Path) -> None:
    path = tmp_path / "v3.db"
    db = sqlite3.connect(path)
    for migration in MIGRATIONS[:3]:
        for statement in migration:
            db.execute(statement)
    db.execute("PRAGMA user_version = 3")
    logos = {
        "emulator": "http://127.0.0.1:46039/logos/AU00000.svg",
        "localhost": "http://LOCALHOST:8080/logos/AU00000.svg",
        "bare": "http://localhost/logos/AU00000.svg",
        "ipv6": "http://[::1]:9/logos/AU00000.svg",
        "basiq": "https://d388vpyfrt4zrj.cloudfront.net/AU00000.svg",
        "none": None,
    }
    for connection_id, logo in logos.items():
        db.execute(
            "INSERT INTO connections (id, basiq_user_id, institution, status, created, updated,"
            " last_event, logo) VALUES (?, 'u1', 'Hooli', 'active', 't0', 't0', 'connection', ?)",
            (connection_id, logo),
        )
    db.commit()
    db.close()
    store = Store(path)
    kept = {row.id: row.logo for row in store.connections()}
    assert kept == {
        "emulator": None,
        "localhost": None,
        "bare": None,
        "ipv6": None,
        "basiq": logos["basiq"],  # still served; replaced once reconcile fetches the image
        "none": None,
    }
    assert {(row.institution_id, row.detail) for row in store.connections()} == {(None, None)}


def test_a_found_connection_is_added_once_and_described_with_its_banks_logo(
    tmp_path: Path,
) -> None:
    store = Store(tmp_path / "blink.db")
    for _ in range(2):
        with store.writing("the connection") as tx:
            added = tx.adopt_connection("c1", "u1", status="connected", job_id="j1")
        assert added is (_ == 0)
    record_success(store, SUCCESS.replace("conn-1", "c1"))  # Blink reports it after all
    assert [(c.id, c.status, c.job_id) for c in store.connections()] == [("c1", "connected", "j1")]
    with store.writing("the bank's name") as tx:
        tx.keep_logo("AU00000", "data:image/svg+xml;base64,PHN2Zy8+")
        tx.describe("c1", institution_id="AU00000", institution="Hooli", detail="Savings ••1234")
        tx.adopt_connection("c2", "u1", status="active", job_id=None)
        tx.describe("c2", institution_id="AU00000", institution="Hooli", detail=None)
    one, two = store.connection("c1"), store.connection("c2")
    assert one is not None and two is not None
    assert (one.institution_id, one.institution, one.detail) == (
        "AU00000",
        "Hooli",
        "Savings ••1234",
    )
    assert one.logo == two.logo == "data:image/svg+xml;base64,PHN2Zy8+"  # one logo per bank
    assert store.logo("AU00000") == one.logo and store.logo("AU99999") is None
    with store.writing("the bank's name") as tx:  # a later description keeps what it lacks
        tx.describe("c1", institution_id="AU00000", institution="Hooli", detail=None)
    assert store.connection("c1").detail == "Savings ••1234"  # type: ignore[union-attr]

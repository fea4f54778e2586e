"""Connections Blink never reported are found (by following the job, and by listing the user's
connections at Basiq); each is named by its bank, a logo that outlives the emulator's port, and
its accounts."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from blink_desktop.app.backend import BackendClient
from blink_desktop.app.bridge import Bridge
from blink_desktop.app.connect import ConnectService
from blink_desktop.app.store import Store
from blink_desktop.basiq.client import BasiqClient
from blink_desktop.basiq.keyholder import KeyHolder
from blink_desktop.emulator import Emulator, Fault
from tests.app.conftest import TOKEN, message
from tests.conftest import FAST, Api, wait_for

BOOTSTRAP_FIELDS = {"ok", "mode", "identifier", "transport", "connections"}


def started(bridge: Bridge) -> tuple[str, str]:
    """The Basiq user and client token of a connect the page started."""
    reply = bridge.start_connect(TOKEN)
    assert reply["ok"] is True, reply
    return reply["user_id"], reply["access_token"]


def found_events(store: Store) -> list[dict[str, Any]]:
    return [event for event in store.events() if event["event"] == "found"]


def test_a_connection_made_after_cancelling_is_found_by_following_its_job(
    bridge: Bridge, store: Store, api: Api
) -> None:
    user_id, client_token = started(bridge)
    response = api.connect(user_id, login="jared", password="django", token=client_token)
    job_id = response.json()["id"]
    bridge.receive(TOKEN, message("job", {"success": True, "data": {"id": job_id}}))
    cancelled = bridge.receive(TOKEN, message("cancellation"))
    assert (cancelled["event"], cancelled["job_id"]) == ("cancellation", job_id)
    assert store.connections() == []  # Blink never said `connection`
    job = api.wait_job(job_id, "verify-credentials", "success")
    connection_id = job["links"]["source"].rsplit("/", 1)[1]

    first = bridge.progress(TOKEN, job_id)
    assert first["ok"] is True
    assert (first["found"], first["connection_id"]) == (True, connection_id)
    [event] = found_events(store)
    assert (event["origin"], event["accepted"], event["job_id"]) == ("blink-desktop", True, job_id)
    assert job_id in event["reason"] and "Blink" in event["reason"]

    done = wait_for(lambda: (reply := bridge.progress(TOKEN, job_id))["done"] and reply)
    assert (done["failed"], done["found"]) == (False, False)
    [row] = bridge.connections(TOKEN)["connections"]
    assert (row["id"], row["status"], row["institution"]) == (connection_id, "active", "Hooli")
    assert row["institution_id"] == "AU00000"
    assert row["logo"].startswith("data:image/svg+xml;base64,")
    assert row["detail"] and "••" in row["detail"]
    assert len(found_events(store)) == 1  # found once, however often the page asks


def test_reconcile_adopts_what_basiq_has_and_the_store_lacks(
    bridge: Bridge, store: Store, api: Api
) -> None:
    assert bridge.reconcile(TOKEN) == {
        "ok": True,
        "connections": [],
        "found": [],
        "reconciled": False,
        "mode": "emulator",
    }
    user_id, client_token = started(bridge)  # the Basiq user is known from here on
    first = api.connected(user_id, token=client_token)  # and Blink never says a word

    reply = bridge.reconcile(TOKEN)
    assert (reply["ok"], reply["found"], reply["reconciled"]) == (True, [first], True)
    [row] = reply["connections"]
    assert (row["id"], row["status"], row["institution"]) == (first, "active", "Hooli")
    assert row["logo"].startswith("data:image/svg+xml;base64,") and row["detail"]
    [event] = found_events(store)
    assert (event["origin"], event["accepted"]) == ("blink-desktop", True)
    assert "Basiq" in event["reason"]
    assert bridge.reconcile(TOKEN)["found"] == []

    second = api.connected(user_id, login="richard", password="tabsnotspaces", token=client_token)
    booted = bridge.bootstrap(TOKEN)
    assert BOOTSTRAP_FIELDS | {"events", "user_id"} <= set(booted)
    assert booted["user_id"] == user_id
    # The stored list at once, without asking Basiq; the page reconciles next.
    assert {row["id"] for row in booted["connections"]} == {first}
    assert bridge.reconcile(TOKEN)["found"] == [second]


def test_two_connections_at_one_bank_are_told_apart_by_their_accounts(
    bridge: Bridge, api: Api
) -> None:
    user_id, client_token = started(bridge)
    api.connected(user_id, token=client_token)
    api.connected(user_id, login="jared", password="django", token=client_token)
    rows = bridge.reconcile(TOKEN)["connections"]
    assert [row["institution"] for row in rows] == ["Hooli", "Hooli"]
    details = [row["detail"] for row in rows]
    assert all(details) and details[0] != details[1]
    for detail in details:
        for account in detail.split(" · "):
            masked = account.rsplit(" ••", 1)[1]
            assert masked.isdigit() and len(masked) == 4


def test_reconcile_names_a_row_blink_reported_but_nobody_described(
    bridge: Bridge, store: Store, api: Api
) -> None:
    user_id, client_token = started(bridge)
    connection_id = api.connected(user_id, token=client_token)
    bridge.receive(TOKEN, message("connection", {"success": True, "data": {"id": connection_id}}))
    [row] = store.connections()
    assert (row.institution_id, row.institution, row.logo, row.detail) == (None,) * 4
    reply = bridge.reconcile(TOKEN)
    assert reply["found"] == []
    [named] = reply["connections"]
    assert (named["institution_id"], named["institution"]) == ("AU00000", "Hooli")
    assert named["logo"].startswith("data:") and named["detail"]
    assert found_events(store) == []


def test_logos_outlive_the_emulators_port(tmp_path: Path) -> None:
    state, store = tmp_path / "emulator.sqlite", Store(tmp_path / "blink.db")
    try:
        logos: list[str] = []
        for _ in range(2):  # the app, run twice: each run's emulator listens on a new port
            with Emulator(state_path=state, job_speed=FAST) as emulator:
                client = BasiqClient(emulator.url)
                service = ConnectService(
                    KeyHolder(client, emulator.api_key, known_users=store.basiq_user), client,
                    store, blink_url=f"{emulator.url}/index.html", blink_origin=emulator.url,
                    identifier="gavin@hooli.com", emulated=True,
                )  # fmt: skip
                bridge = Bridge(service, TOKEN)
                if not logos:
                    user_id, client_token = started(bridge)
                    Api(emulator).connected(user_id, token=client_token)
                [row] = bridge.reconcile(TOKEN)["connections"]
                assert str(emulator.url) not in row["logo"]
                logos.append(row["logo"])
        assert logos[0] == logos[1] and logos[0].startswith("data:image/svg+xml;base64,")
    finally:
        store.close()


def test_a_basiq_that_fails_leaves_the_stored_list_shown(
    bridge: Bridge, store: Store, api: Api, emulator: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    user_id, client_token = started(bridge)
    first = api.connected(user_id, token=client_token)
    assert bridge.reconcile(TOKEN)["found"] == [first]
    api.connected(user_id, login="jared", password="django", token=client_token)
    emulator.faults.add(Fault(route="GET /users/*/connections", status=500))
    with caplog.at_level(logging.INFO):
        booted = bridge.bootstrap(TOKEN)
        reconciled = bridge.reconcile(TOKEN)
    assert booted["ok"] is True
    assert [row["id"] for row in booted["connections"]] == [first]
    assert (reconciled["ok"], reconciled["reconciled"], reconciled["found"]) == (True, False, [])
    [warning, *_] = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert "could not check your connections at Basiq" in warning.getMessage()
    assert "500" in warning.getMessage()


def test_in_backend_mode_reconcile_asks_nobody(store: Store, emulator: Emulator) -> None:
    # The app has no server token there, and the reference server cannot list connections yet.
    backend = BackendClient("http://127.0.0.1:9", "app-id")  # nothing listens: never called
    service = ConnectService(
        backend, BasiqClient(emulator.url), store, blink_url=f"{emulator.url}/index.html",
        blink_origin=emulator.url, identifier="gavin@hooli.com",
    )  # fmt: skip
    with store.writing("who you are") as tx:
        tx.remember_user("gavin@hooli.com", "u1")
    bridge = Bridge(service, TOKEN)
    assert bridge.reconcile(TOKEN) == {
        "ok": True,
        "connections": [],
        "found": [],
        "reconciled": False,
        "mode": "basiq",
    }
    assert bridge.bootstrap(TOKEN)["connections"] == []


def test_a_job_of_an_earlier_attempt_is_still_followed_after_a_new_one_starts(
    bridge: Bridge, store: Store, api: Api
) -> None:
    user_id, client_token = started(bridge)
    job_id = api.connect(user_id, token=client_token).json()["id"]
    bridge.receive(TOKEN, message("job", {"success": True, "data": {"id": job_id}}))
    bridge.receive(TOKEN, message("cancellation"))
    started(bridge)  # the person opens the panel again before the first job is done
    done = wait_for(lambda: (reply := bridge.progress(TOKEN, job_id))["done"] and reply)
    assert done["ok"] is True and done["failed"] is False
    assert [row.status for row in store.connections()] == ["active"]
    assert bridge.progress(TOKEN, "someone-elses-job")["ok"] is False


def test_a_failed_jobs_step_says_why_in_basiqs_words(bridge: Bridge, api: Api) -> None:
    user_id, client_token = started(bridge)
    response = api.connect(user_id, login="bighead", password="password", token=client_token)
    job_id = response.json()["id"]
    bridge.receive(TOKEN, message("job", {"success": True, "data": {"id": job_id}}))
    done = wait_for(lambda: (reply := bridge.progress(TOKEN, job_id))["done"] and reply)
    assert done["failed"] is True
    failure = api.job(job_id)["steps"][0]["result"]
    assert done["failure"]["code"] == failure["code"] == "invalid-credentials"
    assert done["failure"]["title"] == failure["title"]


def test_a_connection_still_being_made_is_not_adopted_until_basiq_settles_it(
    bridge: Bridge, store: Store, emulator: Emulator
) -> None:
    slow = Emulator(job_speed=1)  # the job runs long enough to be listed as pending
    with slow:
        client = BasiqClient(slow.url)
        keyholder = KeyHolder(client, slow.api_key, known_users=store.basiq_user)
        service = ConnectService(
            keyholder, client, store, blink_url=f"{slow.url}/index.html",
            blink_origin=slow.url, identifier="gavin@hooli.com", emulated=True,
        )  # fmt: skip
        slow_bridge = Bridge(service, TOKEN)
        user_id, client_token = started(slow_bridge)
        slow_api = Api(slow)
        pending = slow_api.connect(
            user_id, login="bighead", password="password", token=client_token
        )
        assert pending.status_code == 202
        listed = slow_api.call("GET", f"/users/{user_id}/connections", slow_api.token()).json()
        assert [item["status"] for item in listed["data"]] == ["pending"]
        assert slow_bridge.reconcile(TOKEN)["found"] == []  # still running: not yet
        assert store.connections() == []
        slow_api.wait_job(pending.json()["id"], "verify-credentials", "failed")
        assert slow_bridge.reconcile(TOKEN)["found"] == []  # a failed first login leaves none
        assert store.connections() == []


def test_a_connection_basiq_calls_invalid_is_shown_as_needing_a_fix(
    bridge: Bridge, store: Store, api: Api, emulator: Emulator
) -> None:
    user_id, client_token = started(bridge)
    connection_id = api.connected(user_id, token=client_token)
    assert bridge.reconcile(TOKEN)["found"] == [connection_id]  # adopted: no job of its own
    emulator.break_connection(connection_id)  # the person changed their password at the bank
    refresh = api.call("POST", f"/users/{user_id}/connections/{connection_id}/refresh", api.token())
    assert refresh.status_code == 202, refresh.text
    api.wait_job(refresh.json()["id"], "verify-credentials", "failed")

    [row] = bridge.reconcile(TOKEN)["connections"]
    assert (row["id"], row["status"]) == (connection_id, "invalid")
    assert store.connection(connection_id) is not None  # kept: Fix brings it back

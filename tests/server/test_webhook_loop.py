"""Webhooks beyond one request, on both engines: the same one delivered to two instances at
once, events read after the answer to put them in order, and the whole loop on one machine
(`serve` with its embedded emulator, in-process and as the command)."""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import requests

from blink_desktop.emulator import DEFAULT_API_KEY, Emulator
from blink_desktop.errors import ApiUnavailable
from blink_desktop.server import Server, build_server, webhooks
from blink_desktop.server.resolver import Resolver
from blink_desktop.server.store import ConnectionEvent, ReceivedWebhook, Store, open_store
from blink_desktop.settings import load_settings
from tests.conftest import FAST, at_once, foreground, serving, wait_for
from tests.server.conftest import CLIENT
from tests.server.hooks import SECRET, deliver, message, signed


@pytest.fixture
def instances(
    emulator: Emulator, database: Path | str
) -> Iterator[Callable[[], tuple[Server, str]]]:
    """Servers on the test's one database (several processes of one machine on SQLite,
    several instances on PostgreSQL), each served."""
    with ExitStack() as stack:

        def start() -> tuple[Server, str]:
            settings = load_settings(
                api_key=emulator.api_key,
                api_url=emulator.url,
                client_ids=[CLIENT],
                webhook_secret=SECRET,
            )
            server = build_server(settings, database=database)
            stack.callback(server.close)
            return server, stack.enter_context(serving(server.app))

        yield start


def test_a_webhook_delivered_to_two_instances_at_once_is_recorded_once(
    instances: Callable[[], tuple[Server, str]],
) -> None:
    (first, one), (_, two) = instances(), instances()
    body = message("connection.activated")
    headers = signed(body)
    replies = at_once([partial(deliver, (one, two)[n % 2], body, headers) for n in range(16)])
    assert [reply.status_code for reply in replies] == [200] * 16
    duplicates = [reply.json()["result"]["duplicate"] for reply in replies]
    assert duplicates.count(False) == 1
    assert len(first.store.connection_events("u1")) == 1


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def hook(store: Store, event_type: str, event_id: str, connection: str = "c1") -> None:
    body = message(event_type, connection=connection, event_id=event_id).decode()
    webhook = ReceivedWebhook(f"msg_{event_id}", event_id, event_type, "u1", connection, body)
    assert store.record_webhook(webhook)


def test_events_read_after_the_answer_put_a_connections_events_in_order(
    database: Path | str,
) -> None:
    """Invalidated at 12:00:05 (its delivery failed), activated again at 12:00:09; the retry
    of the first arrives last. By arrival the connection is invalid; by its events, active."""
    clock = Clock()
    store = open_store(database, clock=clock)
    other = open_store(database, clock=clock)  # another worker, or instance
    try:
        hook(store, "connection.activated", "e2")
        hook(store, "connection.invalidated", "e1")
        assert webhooks.statuses(store.connection_events("u1")) == {"c1": "invalid"}
        events = {"e1": "2026-03-01T12:00:05Z", "e2": "2026-03-01T12:00:09Z"}
        basiq_down = [True]

        def read(event_id: str) -> dict[str, Any] | None:
            if basiq_down[0]:
                raise ApiUnavailable("Basiq is away")
            return {"createdDate": events[event_id], "entity": "connection", "userId": "u1"}

        resolver = Resolver(store, read, first_retry=5)
        assert resolver.run_once() == 2  # both read, and failed
        assert store.unresolved_webhooks(10) == []  # due again in 5 s, not before
        clock.now += timedelta(seconds=5)
        due = other.unresolved_webhooks(10)
        assert [(w.event_id, w.attempts) for w in due] == [("e2", 1), ("e1", 1)]
        assert other.claim_webhook(due[0], 10)  # the other worker took e2, then stopped
        assert not store.claim_webhook(due[0], 10)  # taken: not twice
        basiq_down[0] = False
        assert resolver.run_once() == 1  # e1
        assert store.unresolved_webhooks(10) == []
        clock.now += timedelta(seconds=10)
        assert [w.event_id for w in store.unresolved_webhooks(10)] == ["e2"]  # its lease ended
        assert resolver.run_once() == 1
        assert store.unresolved_webhooks(10) == []
        listed = store.connection_events("u1")
        assert [(e.event_type, e.occurred) for e in listed] == [
            ("connection.activated", "2026-03-01T12:00:09.000Z"),
            ("connection.invalidated", "2026-03-01T12:00:05.000Z"),
        ]
        assert webhooks.statuses(listed) == {"c1": "active"}
    finally:
        store.close()
        other.close()


def connect_hooli(api_url: str, user: str, client_token: str, server_token: str) -> str:
    """What an app does through Basiq: connect Hooli; the connection's id once it is made."""
    job = requests.post(
        f"{api_url}/users/{user}/connections",
        json={"loginId": "gavinBelson", "password": "hooli2016", "institution": {"id": "AU00000"}},
        headers={"Authorization": f"Bearer {client_token}"},
        timeout=10,
    )
    assert job.status_code == 202, job.text

    def made() -> str | None:
        reply = requests.get(
            f"{api_url}/jobs/{job.json()['id']}",
            headers={"Authorization": f"Bearer {server_token}"},
            timeout=10,
        )
        source = reply.json()["links"].get("source")
        return str(source).rsplit("/", 1)[1] if source else None

    return wait_for(made)


def one_machine_loop(url: str, api_url: str, server_token: str) -> tuple[str, str]:
    """An app on `serve`: its person, a client token, a connection made at the emulator and
    reported; until the emulator's webhooks say it is active. (user, connection)."""
    person = {"email": "gavin@hooli.com", "client_id": CLIENT}
    user = requests.post(f"{url}/user", json=person, timeout=10).json()["result"]["id"]
    token = requests.post(f"{url}/access_token", json=person, timeout=10).json()["result"]
    connection = connect_hooli(api_url, user, token["access_token"], server_token)
    report = {"client_id": CLIENT, "user_id": user, "connection_id": connection}
    assert requests.post(f"{url}/connections", json=report, timeout=10).status_code == 201
    wait_for(lambda: status(url, user) == "active")
    return user, connection


def status(url: str, user: str) -> str:
    reply = requests.get(
        f"{url}/users/{user}/connections", headers={"X-Client-Id": CLIENT}, timeout=10
    )
    [listed] = reply.json()["result"]
    return str(listed["status"])


def read_all(store: Store, user: str) -> list[ConnectionEvent] | None:
    """The user's connection events once each has been read at Basiq, else None."""
    events = store.connection_events(user)
    return events if events and all(event.occurred for event in events) else None


def test_serve_with_its_embedded_emulator_receives_its_webhooks(database: Path | str) -> None:
    settings = load_settings(client_ids=[CLIENT], emulator_job_speed=FAST)
    server = build_server(settings, database=database)
    try:
        assert server.emulated
        with serving(server.app) as url:
            assert server.listening(url) == f"{url}/webhooks/basiq"
            api, token = server.upstream.api_url, server.keyholder.server_token()
            user, connection = one_machine_loop(url, api, token)
            deleted = requests.delete(
                f"{api}/users/{user}/connections/{connection}",
                headers={"Authorization": f"Bearer {token}"},
                timeout=10,
            )
            assert deleted.status_code == 204
            wait_for(lambda: status(url, user) == "deleted")
            # Each event was read after its answer: when it happened is known.
            events = wait_for(lambda: read_all(server.store, user))
            assert {event.event_type for event in events} == {
                "connection.created",
                "connection.activated",
                "connection.deleted",
            }
    finally:
        server.close()
    # Started again on the same data: its registration replaces the last one.
    again = build_server(settings, database=database)
    try:
        with serving(again.app) as url:
            again.listening(url)
            listed = requests.get(
                f"{again.upstream.api_url}/notifications/webhooks",
                headers={"Authorization": f"Bearer {again.keyholder.server_token()}"},
                timeout=10,
            ).json()
        assert [hook["url"] for hook in listed["data"]] == [f"{url}/webhooks/basiq"]
    finally:
        again.close()


def test_the_serve_command_runs_the_whole_loop_on_one_machine(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("BLINK_DESKTOP_CLIENT_IDS", CLIENT)
    monkeypatch.setenv("BLINK_DESKTOP_EMULATOR_JOB_SPEED", str(FAST))
    serve = [sys.executable, "-m", "blink_desktop", "serve", "--port", "0"]
    with foreground(*serve) as (process, url):
        assert url.startswith("http://127.0.0.1:"), process.communicate(timeout=10)
        assert process.stderr is not None
        said = process.stderr.readline()
        found = re.search(r"embedded emulator at (\S+), whose webhooks arrive at (\S+)\.", said)
        assert found is not None, said
        api_url, receiver = found.groups()
        assert receiver == f"{url}/webhooks/basiq"
        token = requests.post(
            f"{api_url}/token",
            data={"scope": "SERVER_ACCESS"},
            headers={"Authorization": f"Basic {DEFAULT_API_KEY}", "basiq-version": "2.1"},
            timeout=10,
        ).json()["access_token"]
        one_machine_loop(url, api_url, token)

"""Backend mode against the reference server: the app's backend client, and the outbox that
delivers connection reports once the server is reachable, across restarts."""

from __future__ import annotations

import base64
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
import requests

from blink_desktop.app.backend import BackendClient
from blink_desktop.app.connect import ConnectService
from blink_desktop.app.outbox import UNKNOWN_USER_DELAY, Outbox
from blink_desktop.app.store import Store
from blink_desktop.basiq.client import BasiqClient
from blink_desktop.emulator import Emulator
from blink_desktop.errors import ApiAuthError, ApiUnavailable
from blink_desktop.server import build_server
from blink_desktop.settings import load_settings
from harness.ports import free_port
from tests.conftest import serving, wait_for

CLIENT = "desktop-app-1"


@pytest.fixture
def reference_server(emulator: Emulator, tmp_path: Path) -> Iterator[Callable[[int], str]]:
    """Start `blink-desktop serve`'s server on a port (0 picks one); return its URL."""
    with ExitStack() as stack:

        def start(port: int = 0) -> str:
            settings = load_settings(
                api_key=emulator.api_key, api_url=emulator.url, client_ids=[CLIENT]
            )
            server = build_server(settings, database=tmp_path / "server.sqlite")
            stack.callback(server.close)
            return stack.enter_context(serving(server.app, port))

        yield start


def claims(token: str) -> dict[str, Any]:
    part = token.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))))


def test_the_backend_client_talks_to_the_server(
    reference_server: Callable[[int], str], emulator: Emulator
) -> None:
    url = reference_server(0)
    backend = BackendClient(url, CLIENT)
    user = backend.basiq_user("me@x.co")
    assert backend.basiq_user("me@x.co") == user
    assert backend.basiq_user("0412 345 678") != user  # a mobile number is a person too
    assert emulator.state.count_users() == 2
    assert claims(backend.client_token(user))["scope"] == "CLIENT_ACCESS"
    backend.report_connection(user, "conn-1")
    listed = requests.get(
        f"{url}/users/{user}/connections", headers={"X-Client-Id": CLIENT}, timeout=10
    )
    assert [item["id"] for item in listed.json()["result"]] == ["conn-1"]
    with pytest.raises(ApiAuthError, match="client id"):
        BackendClient(url, "wrong").basiq_user("me@x.co")


def report_connection(store: Store, user: str, connection: str) -> None:
    """What the connect service writes for a new connection in backend mode."""
    raw = json.dumps(
        {"event": "connection", "payload": {"success": True, "data": {"id": connection}}}
    )
    with store.writing("the event") as tx:
        tx.log_event("http://blink", raw, event="connection", accepted=True)
        tx.upsert_connection(connection, user, None)
        tx.enqueue_report(connection, user)


def test_outbox_delivers_once_the_server_comes_back_even_after_a_restart(
    reference_server: Callable[[int], str], tmp_path: Path
) -> None:
    # The person's Basiq user comes from the server, as in the app; the server then goes down
    # (it is not on `port` yet) and comes back there, on the same database.
    user = BackendClient(reference_server(0), CLIENT).basiq_user("me@x.co")
    port = free_port()
    backend = BackendClient(f"http://127.0.0.1:{port}", CLIENT)
    store = Store(tmp_path / "app.sqlite")
    report_connection(store, user, "conn-1")
    report_connection(store, user, "conn-1")  # the same connection twice is one report
    outbox = Outbox(store, backend.report_connection, first_delay=0.05, max_delay=0.2)
    assert outbox.run_once() == 0  # the server is down
    [waiting] = store.pending_reports()
    assert waiting.attempts == 1
    assert waiting.last_error is not None and "Cannot reach your server" in waiting.last_error
    store.close()
    # The app restarts; the report is still there. Then the server comes up.
    store = Store(tmp_path / "app.sqlite")
    assert len(store.pending_reports()) == 1
    url = reference_server(port)
    outbox = Outbox(store, backend.report_connection, first_delay=0.05, max_delay=0.2)
    outbox.start()
    try:
        outbox.wake()
        wait_for(lambda: store.pending_reports() == [], timeout=10)
    finally:
        outbox.stop()
        store.close()
    listed = requests.get(
        f"{url}/users/{user}/connections", headers={"X-Client-Id": CLIENT}, timeout=10
    )
    assert [item["id"] for item in listed.json()["result"]] == ["conn-1"]


def test_stopping_is_prompt_and_clean_whatever_is_pending(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    started = threading.Event()
    release = threading.Event()

    def deliver(user: str, connection: str) -> None:
        started.set()
        release.wait(timeout=30)  # a server that takes its time answering
        raise ApiUnavailable("Your server did not answer in time.")

    store = Store(tmp_path / "app.sqlite")
    for n in range(5):
        report_connection(store, "u1", f"conn-{n}")
    outbox = Outbox(store, deliver, first_delay=0.05, max_delay=0.2)
    outbox.start()
    assert started.wait(timeout=10)
    began = time.monotonic()
    outbox.stop(timeout=1.0)
    assert time.monotonic() - began < 1.5
    store.close()  # as App.close() does, straight after
    release.set()  # the delivery in flight now fails; the outbox must not touch the store
    wait_for(lambda: not any(t.name == "outbox" for t in threading.enumerate()), timeout=10)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    store = Store(tmp_path / "app.sqlite")
    try:
        pending = store.pending_reports()
        assert len(pending) == 5  # nothing lost: each goes out on the next start
        assert all(report.attempts == 0 for report in pending)
    finally:
        store.close()


def test_reports_are_not_retried_twice_over_so_a_dead_server_costs_milliseconds(
    tmp_path: Path,
) -> None:
    backend = BackendClient(f"http://127.0.0.1:{free_port()}", CLIENT)
    store = Store(tmp_path / "app.sqlite")
    for n in range(5):
        report_connection(store, "u1", f"conn-{n}")
    began = time.monotonic()
    assert Outbox(store, backend.report_connection).run_once() == 0
    assert time.monotonic() - began < 1.0  # was about 1.8 s a report with urllib3's retries
    assert all(report.attempts == 1 for report in store.pending_reports())
    store.close()


def test_the_app_is_told_at_once_when_basiq_limits_your_server(tmp_path: Path) -> None:
    """Past Basiq's /token limit the app waited out the server's Retry-After: 3 x 10 s."""
    with Emulator(token_rate_limit=2) as limited:
        settings = load_settings(api_key=limited.api_key, api_url=limited.url, client_ids=[CLIENT])
        server = build_server(settings, database=tmp_path / "server.sqlite")
        try:
            with serving(server.app) as url:
                backend = BackendClient(url, CLIENT)
                user = backend.basiq_user("me@x.co")  # takes the server token: one of two
                backend.client_token(user)  # the second
                started = time.monotonic()
                with pytest.raises(ApiUnavailable, match="limited by Basiq.*Retry in \\d+ s"):
                    backend.client_token(user)
                assert time.monotonic() - started < 2
        finally:
            server.close()


def test_a_server_that_forgot_the_person_names_them_again_and_old_reports_wait(
    emulator: Emulator, tmp_path: Path
) -> None:
    """The server's database is rebuilt (or this app's client id changes): the id the app
    remembered for the person is no longer the server's to answer for. A connect asks the
    server for the person again; a report for the old id waits a day, with the reason."""
    with ExitStack() as stack:

        def server(database: str) -> BackendClient:
            settings = load_settings(
                api_key=emulator.api_key, api_url=emulator.url, client_ids=[CLIENT]
            )
            built = build_server(settings, database=tmp_path / database)
            stack.callback(built.close)
            return BackendClient(stack.enter_context(serving(built.app)), CLIENT)

        store = Store(tmp_path / "app.sqlite")
        stack.callback(store.close)

        def service(backend: BackendClient) -> ConnectService:
            return ConnectService(
                backend,
                BasiqClient(emulator.url),
                store,
                blink_url=f"{emulator.url}/index.html",
                blink_origin=emulator.url,
                identifier="me@x.co",
            )

        old_user = service(server("first.sqlite")).start().basiq_user_id
        report_connection(store, old_user, "conn-old")
        rebuilt = server("rebuilt.sqlite")
        session = service(rebuilt).start()
        assert session.basiq_user_id not in (old_user, None)
        assert store.basiq_user("me@x.co") == session.basiq_user_id  # remembered from now on
        assert rebuilt.client_token(session.basiq_user_id)  # the new id is the server's
        now = 1_000.0
        outbox = Outbox(store, rebuilt.report_connection, clock=lambda: now)
        assert outbox.run_once() == 0
        [waiting] = store.pending_reports()
        assert waiting.next_attempt == now + UNKNOWN_USER_DELAY
        assert waiting.last_error is not None and "does not know this person" in waiting.last_error

"""The server under many requests at once, over HTTP, with the emulator counting Basiq users:
one process on either engine; two instances (gunicorn with two workers, and `serve`) on one
PostgreSQL, taking the same users, reports and webhook at once; and the database stopped
mid-run."""

from __future__ import annotations

import logging
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial

import psycopg
import pytest
import requests

from blink_desktop.emulator import Emulator
from blink_desktop.server import postgres as postgres_store
from harness.ports import free_port
from tests.conftest import at_once, foreground, wait_for
from tests.server.conftest import CLIENT, Running
from tests.server.database import Postgres
from tests.server.hooks import SECRET, deliver, message, signed


def ask_for_user(url: str, email: str) -> Callable[[], requests.Response]:
    body = {"email": email, "client_id": CLIENT}
    return lambda: requests.post(f"{url}/user", json=body, timeout=30)


def report(url: str, user_id: str, connection_id: str) -> Callable[[], requests.Response]:
    body = {"client_id": CLIENT, "user_id": user_id, "connection_id": connection_id}
    return lambda: requests.post(f"{url}/connections", json=body, timeout=30)


def listed(url: str, user_id: str) -> list[str]:
    reply = requests.get(
        f"{url}/users/{user_id}/connections", headers={"X-Client-Id": CLIENT}, timeout=10
    )
    assert reply.status_code == 200, reply.text
    return sorted(item["id"] for item in reply.json()["result"])


def test_one_new_person_asked_for_by_many_requests_at_once_is_one_basiq_user(
    serve: Callable[..., Running], emulator: Emulator
) -> None:
    server = serve()
    replies = at_once([ask_for_user(server.url, "new@hooli.com") for _ in range(16)])
    assert [reply.status_code for reply in replies] == [200] * 16
    assert len({reply.json()["result"]["id"] for reply in replies}) == 1
    assert emulator.state.count_users() == 1
    user = replies[0].json()["result"]["id"]
    # The outbox sent the same report again and again, all at once: one row.
    replies = at_once([report(server.url, user, "c1") for _ in range(16)])
    assert [reply.status_code for reply in replies] == [201] * 16
    assert listed(server.url, user) == ["c1"]


@contextmanager
def gunicorn(workers: int) -> Iterator[str]:
    """The documented production command, on a free loopback port, settings from the
    environment; stopped (SIGTERM, as a deployment does) after."""
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "-c",
        "python:blink_desktop.server.gunicorn_config",
    ]
    command += ["--workers", str(workers), "--bind", f"127.0.0.1:{port}"]
    with subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) as process:
        url = f"http://127.0.0.1:{port}"
        try:
            wait_for(lambda: process.poll() is not None or _healthy(url), timeout=30)
            assert process.poll() is None, process.communicate(timeout=10)[1].decode()[-2000:]
            yield url
        finally:
            process.terminate()
            process.communicate(timeout=30)


def _healthy(url: str) -> bool:
    try:
        return requests.get(f"{url}/health", timeout=2).status_code == 200
    except requests.ConnectionError:
        return False


@pytest.mark.parametrize("database", ["postgresql"], indirect=True)
def test_two_instances_with_workers_on_one_postgresql_duplicate_nothing_and_lose_nothing(
    emulator: Emulator, database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in {
        "DATABASE_URL": database,
        "API_KEY": emulator.api_key,
        "API_URL": emulator.url,
        "CLIENT_IDS": CLIENT,
        "WEBHOOK_SECRET": SECRET,
    }.items():
        monkeypatch.setenv(f"BLINK_DESKTOP_{name}", value)
    serve = [sys.executable, "-m", "blink_desktop", "serve", "--port", "0"]
    with gunicorn(workers=2) as first, foreground(*serve) as (process, second):
        assert second.startswith("http://127.0.0.1:"), process.communicate(timeout=10)
        wait_for(lambda: _healthy(second), timeout=30)
        instances = [first, second]
        people = [f"person{n}@hooli.com" for n in range(3)]
        replies = at_once(
            [ask_for_user(instances[n % 2], person) for person in people for n in range(12)]
        )
        assert [reply.status_code for reply in replies] == [200] * 36
        ids = {reply.json()["result"]["email"]: reply.json()["result"]["id"] for reply in replies}
        assert len({reply.json()["result"]["id"] for reply in replies}) == 3
        assert emulator.state.count_users() == 3  # one each, at Basiq itself
        user = ids[people[0]]
        # Ten connections, each reported four times at once, to both instances in turn.
        replies = at_once(
            [report(instances[n % 2], user, f"c{n % 10}") for n in range(40)],
        )
        assert [reply.status_code for reply in replies] == [201] * 40
        expected = sorted(f"c{n}" for n in range(10))
        assert listed(first, user) == listed(second, user) == expected
        # One webhook, delivered twelve times at once to the three worker processes.
        body = message("connection.activated", user=user, connection="c0")
        headers = signed(body)
        replies = at_once([partial(deliver, instances[n % 2], body, headers) for n in range(12)])
        assert [reply.status_code for reply in replies] == [200] * 12
        assert [reply.json()["result"]["duplicate"] for reply in replies].count(False) == 1
    with psycopg.connect(database) as conn:
        assert conn.execute("SELECT count(*) FROM reported_connections").fetchone() == (10,)
        assert conn.execute("SELECT count(*) FROM users").fetchone() == (3,)
        assert conn.execute("SELECT count(*) FROM webhooks").fetchone() == (1,)


@pytest.mark.parametrize("database", ["postgresql"], indirect=True)
def test_the_database_stopped_mid_run_is_503_then_the_server_recovers_by_itself(
    serve: Callable[..., Running],
    postgres: Postgres,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="blink_desktop.server")
    monkeypatch.setattr(postgres_store, "WAIT", 0.5)  # each 503 within half a second
    server = serve()
    user = server.post("/user", {"email": "me@x.co", "client_id": CLIENT}).json()["result"]["id"]
    postgres.stop()
    try:
        down = [
            server.post(
                "/connections", {"client_id": CLIENT, "user_id": user, "connection_id": "c1"}
            ),
            server.post("/user", {"email": "you@x.co", "client_id": CLIENT}),
            server.get("/health"),
        ]
    finally:
        postgres.start()
    for reply in down:
        assert reply.status_code == 503
        assert reply.headers["Retry-After"] == "5"
        assert reply.json() == {
            "success": False,
            "errorMessage": postgres_store.UNAVAILABLE,
            "error": {"code": "database-unavailable"},
        }
    wait_for(lambda: server.get("/health").status_code == 200, timeout=20)
    again = server.post(
        "/connections", {"client_id": CLIENT, "user_id": user, "connection_id": "c1"}
    )
    assert again.status_code == 201
    assert listed(server.url, user) == ["c1"]
    lines = [r.getMessage() for r in caplog.records if r.name == "blink_desktop.server"]
    assert len([line for line in lines if "is not answering" in line]) == 1, lines
    assert not any("Traceback" in line or "internal error" in line for line in lines), lines
    assert any("answers again" in line for line in lines), lines


@pytest.mark.parametrize("database", ["postgresql"], indirect=True)
def test_under_gunicorn_a_body_declared_too_large_is_refused_unread(
    emulator: Emulator, database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in {"DATABASE_URL": database, "API_KEY": emulator.api_key}.items():
        monkeypatch.setenv(f"BLINK_DESKTOP_{name}", value)
    monkeypatch.setenv("BLINK_DESKTOP_API_URL", emulator.url)
    monkeypatch.setenv("BLINK_DESKTOP_CLIENT_IDS", CLIENT)
    with gunicorn(workers=1) as url:
        host, port = url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=10) as sock:
            sock.sendall(
                b"POST /user HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b"X-Client-Id: " + CLIENT.encode() + b"\r\nContent-Length: 1000000000\r\n\r\n{"
            )
            answer = read_answer(sock)
    assert answer.startswith("HTTP/1.1 413 "), answer
    assert '"body-too-large"' in answer


def read_answer(sock: socket.socket) -> str:
    """One HTTP answer with a Content-Length, whole, however it arrives."""
    received = b""
    while True:
        head, ended, body = received.partition(b"\r\n\r\n")
        length = head.lower().partition(b"content-length:")[2].split(b"\r\n")[0]
        if ended and len(body) >= int(length or 0):
            return received.decode()
        chunk = sock.recv(65536)
        if not chunk:
            return received.decode()
        received += chunk

"""The reference server, with the emulator as its upstream; backend mode and its outbox."""

from __future__ import annotations

import base64
import json
import logging
import socket
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import keyring
import keyring.backend
import pytest
import requests

from blink_desktop import cli, keychain
from blink_desktop.emulator import Emulator, Fault
from blink_desktop.errors import SettingsError
from blink_desktop.models import parse_event
from blink_desktop.outbox import Outbox
from blink_desktop.providers import BackendProvider
from blink_desktop.server import Server, build_server
from blink_desktop.settings import load_settings
from blink_desktop.store import Store
from tests.conftest import serving, wait_for

CLIENT = "desktop-app-1"


class Running:
    def __init__(self, server: Server, url: str) -> None:
        self.server = server
        self.url = url

    def post(self, path: str, body: Any, **headers: str) -> requests.Response:
        return requests.post(self.url + path, json=body, headers=headers, timeout=10)


@pytest.fixture
def serve(emulator: Emulator, tmp_path: Path) -> Iterator[Callable[..., Running]]:
    with ExitStack() as stack:

        def start(port: int = 0, version: str = "2.1", api_key: str | None = None) -> Running:
            settings = load_settings(
                api_key=api_key or emulator.api_key,
                api_url=emulator.url,
                client_ids=[CLIENT],
                basiq_version=version,
            )
            server = build_server(settings, database=tmp_path / f"server-{port}-{version}.sqlite")
            stack.callback(server.close)
            return Running(server, stack.enter_context(serving(server.app, port)))

        yield start


def claims(token: str) -> dict[str, Any]:
    part = token.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))))


def test_the_same_email_twice_is_one_basiq_user(
    serve: Callable[..., Running], emulator: Emulator
) -> None:
    server = serve()
    first = server.post("/user", {"email": "Gavin@Hooli.com", "client_id": CLIENT})
    second = server.post("/user", {"email": "gavin@hooli.com", "client_id": CLIENT})
    assert first.status_code == second.status_code == 200
    assert first.json()["success"] is True
    assert first.json()["result"]["id"] == second.json()["result"]["id"]
    assert emulator.state.count_users() == 1


def test_access_token_is_a_client_token_compatible_with_basiqs_example(
    serve: Callable[..., Running],
) -> None:
    server = serve()
    reply = server.post("/access_token", {"client_id": CLIENT})
    assert reply.status_code == 200
    result = reply.json()["result"]
    assert set(result) == {"access_token", "token_type", "expires_in"}
    assert result["token_type"] == "Bearer"
    assert claims(result["access_token"])["scope"] == "CLIENT_ACCESS"
    assert "userid" not in claims(result["access_token"])


def test_under_version_3_client_tokens_are_bound_to_the_user(serve: Callable[..., Running]) -> None:
    server = serve(version="3.0")
    user = server.post("/user", {"email": "a@b.co", "client_id": CLIENT}).json()["result"]["id"]
    bound = server.post("/access_token", {"client_id": CLIENT, "user_id": user}).json()["result"]
    assert claims(bound["access_token"])["userid"] == user
    missing = server.post("/access_token", {"client_id": CLIENT})
    assert missing.status_code == 400
    assert missing.json()["success"] is False


@pytest.mark.parametrize(
    ("body", "headers", "status"),
    [
        ({"email": "a@b.co"}, {}, 400),
        ({"email": "a@b.co", "client_id": "wrong"}, {}, 401),
        ({"email": "a@b.co", "client_id": CLIENT + "x"}, {}, 401),
        ({"email": "a@b.co", "client_id": 7}, {}, 401),
        ({"email": "a@b.co"}, {"X-Client-Id": "wrong"}, 401),
    ],
)
def test_a_bad_client_id_is_refused(
    serve: Callable[..., Running],
    emulator: Emulator,
    body: Any,
    headers: dict[str, str],
    status: int,
) -> None:
    reply = serve().post("/user", body, **headers)
    assert reply.status_code == status
    assert reply.json()["success"] is False
    assert emulator.state.count_users() == 0


def test_client_id_in_a_header_is_accepted(serve: Callable[..., Running]) -> None:
    assert serve().post("/user", {"email": "a@b.co"}, **{"X-Client-Id": CLIENT}).status_code == 200


@pytest.mark.parametrize(
    ("body", "status"),
    [({"client_id": CLIENT}, 400), ({"client_id": CLIENT, "email": "nope"}, 400), ([1], 400)],
)
def test_bad_input_is_refused_with_a_message(
    serve: Callable[..., Running], body: Any, status: int
) -> None:
    reply = serve().post("/user", body)
    assert reply.status_code == status
    assert reply.json()["errorMessage"]


def test_upstream_failures_give_clean_errors(
    serve: Callable[..., Running], emulator: Emulator
) -> None:
    server = serve()
    emulator.faults.add(Fault(route="POST /token", status=503))
    reply = server.post("/access_token", {"client_id": CLIENT})
    assert reply.status_code == 503
    body = reply.json()
    assert body["success"] is False
    assert "503" in body["errorMessage"]
    emulator.faults.clear()
    emulator.faults.add(Fault(route="POST /users", status=500))
    reply = server.post("/user", {"email": "x@y.co", "client_id": CLIENT})
    assert reply.status_code == 503
    assert reply.json()["success"] is False


def test_basiq_error_detail_comes_back_as_an_error(serve: Callable[..., Running]) -> None:
    reply = serve(api_key="not-the-key").post("/access_token", {"client_id": CLIENT})
    assert reply.status_code == 502
    assert reply.json()["success"] is False
    assert "check your API key" in reply.json()["errorMessage"]


def test_the_key_appears_in_no_response_and_no_log_line(
    serve: Callable[..., Running], emulator: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    server = serve()
    replies = [
        server.post("/user", {"email": "a@b.co", "client_id": CLIENT}),
        server.post("/access_token", {"client_id": CLIENT}),
        server.post("/access_token", {"client_id": "bad"}),
        server.post("/connections", {"client_id": CLIENT, "user_id": "u", "connection_id": "c"}),
        requests.get(server.url + "/health", timeout=10),
        requests.get(server.url + "/nothing", timeout=10),
    ]
    emulator.faults.add(Fault(route="POST /token", status=500))
    replies.append(server.post("/access_token", {"client_id": CLIENT}))
    for reply in replies:
        assert emulator.api_key not in reply.text
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "POST /access_token" in logged
    assert emulator.api_key not in logged


def test_connections_are_recorded_and_listed_per_user(serve: Callable[..., Running]) -> None:
    server = serve()
    for connection in ("c1", "c2", "c1"):
        body = {"client_id": CLIENT, "user_id": "u1", "connection_id": connection}
        assert server.post("/connections", body).status_code == 201
    server.post("/connections", {"client_id": CLIENT, "user_id": "u2", "connection_id": "c3"})
    listed = requests.get(
        f"{server.url}/users/u1/connections", headers={"X-Client-Id": CLIENT}, timeout=10
    )
    assert sorted(item["id"] for item in listed.json()["result"]) == ["c1", "c2"]
    refused = requests.get(f"{server.url}/users/u1/connections", timeout=10)
    assert refused.status_code == 400
    assert requests.get(f"{server.url}/health", timeout=10).json() == {
        "success": True,
        "result": {"status": "ok"},
    }


def test_backend_provider_talks_to_the_server(serve: Callable[..., Running]) -> None:
    server = serve()
    provider = BackendProvider(server.url, CLIENT)
    user = provider.basiq_user("me@x.co")
    assert provider.basiq_user("me@x.co") == user
    assert claims(provider.client_token(user))["scope"] == "CLIENT_ACCESS"
    refused = BackendProvider(server.url, "wrong")
    with pytest.raises(Exception, match="client id"):
        refused.basiq_user("me@x.co")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def record_connection(store: Store, user: str, connection: str) -> None:
    raw = json.dumps(
        {"event": "connection", "payload": {"success": True, "data": {"id": connection}}}
    )
    store.record("http://blink", raw, event="connection", accepted=True, basiq_user_id=user,
                 parsed=parse_event(raw), report=True)  # fmt: skip


def test_outbox_delivers_once_the_server_comes_back_even_after_a_restart(
    serve: Callable[..., Running], tmp_path: Path
) -> None:
    port = free_port()
    provider = BackendProvider(f"http://127.0.0.1:{port}", CLIENT, timeout=(0.5, 2.0))
    store = Store(tmp_path / "app.sqlite")
    record_connection(store, "u1", "conn-1")
    record_connection(store, "u1", "conn-1")  # the same connection twice is one report
    outbox = Outbox(store, provider.report_connection, first_delay=0.05, max_delay=0.2)
    assert outbox.run_once() == 0  # the server is down
    [waiting] = store.pending_reports()
    assert waiting["attempts"] == 1 and "Cannot reach your server" in waiting["last_error"]
    store.close()
    # The app restarts; the report is still there. Then the server comes up.
    store = Store(tmp_path / "app.sqlite")
    assert len(store.pending_reports()) == 1
    server = serve(port=port)
    outbox = Outbox(store, provider.report_connection, first_delay=0.05, max_delay=0.2)
    outbox.start()
    try:
        outbox.wake()
        wait_for(lambda: store.pending_reports() == [], timeout=10)
    finally:
        outbox.stop()
        store.close()
    listed = requests.get(
        f"{server.url}/users/u1/connections", headers={"X-Client-Id": CLIENT}, timeout=10
    )
    assert [item["id"] for item in listed.json()["result"]] == ["conn-1"]


class MemoryKeyring(keyring.backend.KeyringBackend):
    priority = 1

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.items: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.items.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.items[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        if self.items.pop((service, username), None) is None:
            raise keyring.errors.PasswordDeleteError("not stored")


@pytest.fixture
def memory_keyring() -> Iterator[MemoryKeyring]:
    previous = keyring.get_keyring()
    ring = MemoryKeyring()
    keyring.set_keyring(ring)
    yield ring
    keyring.set_keyring(previous)


def test_login_and_logout_use_the_keyring(
    memory_keyring: MemoryKeyring,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr("sys.stdin", _Stdin("s3cret-key\n"))
    assert cli.main(["login"]) == 0
    assert keychain.api_key() == "s3cret-key"
    out = capsys.readouterr().out
    assert "s3cret-key" not in out
    from blink_desktop import app

    assert app.choose_mode(load_settings()) == "direct"
    assert cli.main(["logout"]) == 0
    assert keychain.api_key() is None
    assert cli.main(["logout"]) == 0
    assert "No API key was stored" in capsys.readouterr().out


def test_login_without_a_keyring_explains_what_to_do(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from keyring.backends import fail

    previous = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())  # type: ignore[no-untyped-call]
    try:
        monkeypatch.setattr("sys.stdin", _Stdin("key\n"))
        assert cli.main(["login"]) == 2
        assert "BLINK_DESKTOP_API_KEY" in capsys.readouterr().err
    finally:
        keyring.set_keyring(previous)


def test_server_without_client_ids_or_key_is_a_settings_error(
    emulator: Emulator, tmp_path: Path
) -> None:
    with pytest.raises(Exception, match="client id"):
        build_server(
            load_settings(api_key=emulator.api_key, api_url=emulator.url), database=tmp_path / "a"
        )
    with pytest.raises(SettingsError, match="API key"):
        build_server(
            load_settings(client_ids=[CLIENT]), upstream=emulator.url, database=tmp_path / "b"
        )


class _Stdin:
    def __init__(self, text: str) -> None:
        self._text = text

    def isatty(self) -> bool:
        return False

    def readline(self) -> str:
        return self._text


def test_the_production_factory_reads_the_environment(
    emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    from blink_desktop import server

    with pytest.raises(SettingsError, match="API key"):
        server.wsgi()  # no key: a production server never falls back to an emulator
    monkeypatch.setenv("BLINK_DESKTOP_API_KEY", emulator.api_key)
    monkeypatch.setenv("BLINK_DESKTOP_API_URL", emulator.url)
    monkeypatch.setenv("BLINK_DESKTOP_CLIENT_IDS", f"{CLIENT}, other")
    with serving(server.wsgi()) as url:
        reply = requests.post(
            f"{url}/user", json={"email": "a@b.co", "client_id": "other"}, timeout=10
        )
        assert reply.json()["success"] is True


def test_serve_without_a_key_starts_on_a_fresh_data_dir(tmp_path: Path) -> None:
    settings = load_settings(client_ids=[CLIENT], data_dir=tmp_path / "new" / "dir")
    server = build_server(settings)
    try:
        assert server.emulator is not None
        assert (tmp_path / "new" / "dir" / "server.sqlite").exists()
    finally:
        server.close()

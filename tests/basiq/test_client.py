"""The typed client against the emulator over real HTTP: models in, errors a person can act on."""

from __future__ import annotations

import base64
import socket
from typing import Any

import pytest

from blink_desktop.basiq.client import BasiqClient
from blink_desktop.basiq.models import Connection, Institution, Job
from blink_desktop.emulator import Emulator, Fault
from blink_desktop.errors import ApiAuthError, ApiResponseError, ApiUnavailable
from blink_desktop.httpd import Serving
from tests.conftest import Api


def test_each_call_returns_basiqs_answer_as_a_model(emulator: Emulator, api: Api) -> None:
    client = BasiqClient(emulator.url, version="2.1")
    server = client.token(emulator.api_key, "SERVER_ACCESS")
    assert server.expires_in == 3600 and server.access_token
    user = client.create_user(server.access_token, "gavin@hooli.com")
    assert user.email == "gavin@hooli.com"
    connection_id = api.connected(user.id)
    job_id = api.call("GET", f"/users/{user.id}/jobs", api.token()).json()["data"][0]["id"]
    job = client.job(server.access_token, job_id)
    assert isinstance(job, Job)
    assert (job.done, job.failed, job.connection_id) == (True, False, connection_id)
    connection = client.connection(server.access_token, user.id, connection_id)
    assert isinstance(connection, Connection) and connection.institution.id == "AU00000"
    institution = client.institution(server.access_token, "AU00000")
    assert isinstance(institution, Institution)
    assert institution.display_name == "Hooli"
    assert institution.logo_url == f"{emulator.url}/logos/AU00000.svg"


def test_a_wrong_key_is_an_auth_error_that_names_the_setting(emulator: Emulator) -> None:
    with pytest.raises(ApiAuthError, match="BLINK_DESKTOP_API_KEY") as caught:
        BasiqClient(emulator.url).token("wrong-key", "SERVER_ACCESS")
    assert "wrong-key" not in str(caught.value)


def test_an_expired_token_is_an_auth_error(emulator: Emulator) -> None:
    client = BasiqClient(emulator.url)
    token = client.token(emulator.api_key, "SERVER_ACCESS").access_token
    emulator.expire_tokens()
    with pytest.raises(ApiAuthError, match="Token has expired"):
        client.institution(token, "AU00000")


def test_an_unknown_resource_is_a_response_error(emulator: Emulator) -> None:
    client = BasiqClient(emulator.url)
    token = client.token(emulator.api_key, "SERVER_ACCESS").access_token
    with pytest.raises(ApiResponseError, match="404: Requested resource is not found"):
        client.institution(token, "XX99999")


def test_a_busy_basiq_is_retried_then_reported_as_unavailable(emulator: Emulator) -> None:
    client = BasiqClient(emulator.url)
    emulator.faults.add(Fault(route="POST /token", status=503, times=2))
    assert client.token(emulator.api_key, "SERVER_ACCESS").access_token  # retried past two
    emulator.faults.add(Fault(route="POST /token", status=503))
    with pytest.raises(ApiUnavailable, match="not available right now \\(503"):
        client.token(emulator.api_key, "SERVER_ACCESS")


def test_nothing_listening_is_unavailable_and_names_the_setting() -> None:
    with pytest.raises(ApiUnavailable, match="Cannot reach the Basiq API.*BLINK_DESKTOP_API_URL"):
        BasiqClient("http://127.0.0.1:9").token("k", "SERVER_ACCESS")


def test_an_answer_that_is_not_basiqs_is_a_response_error() -> None:
    def not_basiq(environ: object, start_response: object) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "application/json")])  # type: ignore[operator]
        return [b'{"id": 1, "steps": "nonsense"}']

    with Serving(not_basiq) as serving:
        client = BasiqClient(serving.url)
        with pytest.raises(ApiResponseError, match="not what Basiq sends"):
            client.job("token", "j1")
        with pytest.raises(ApiResponseError, match="no access_token"):
            client.token("k", "SERVER_ACCESS")


def test_a_basiq_that_does_not_answer_in_time_is_reported_as_such() -> None:
    with socket.socket() as silent:  # accepts connections (the backlog) and never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        client = BasiqClient(f"http://127.0.0.1:{port}", timeout=(2.0, 0.3))
        for call in (
            lambda: client.institution("token", "AU00000"),  # a GET: retried, then wrapped
            lambda: client.create_user("token", "a@b.co"),  # a POST: never retried
        ):
            with pytest.raises(ApiUnavailable, match="did not answer in time") as caught:
                call()
            assert "Cannot reach" not in str(caught.value)


def test_a_users_connections_need_a_server_token(emulator: Emulator, api: Api) -> None:
    client = BasiqClient(emulator.url)
    server = client.token(emulator.api_key, "SERVER_ACCESS").access_token
    user_id = api.user()
    first = api.connected(user_id)
    second = api.connected(user_id, login="jared", password="django")
    listed = client.connections(server, user_id)
    assert {item.id for item in listed} == {first, second}
    assert {item.institution.id for item in listed} == {"AU00000"}
    client_token = client.token(emulator.api_key, "CLIENT_ACCESS").access_token
    with pytest.raises(ApiAuthError, match="403"):
        client.connections(client_token, user_id)


def test_a_client_token_reads_one_connections_accounts(emulator: Emulator, api: Api) -> None:
    client = BasiqClient(emulator.url)
    user_id = api.user()
    connection_id = api.connected(user_id)
    client_token = client.token(emulator.api_key, "CLIENT_ACCESS").access_token
    connection = client.connection(client_token, user_id, connection_id)
    assert connection.accounts is not None and len(connection.accounts.data) >= 2
    assert all(account.name and account.accountNo for account in connection.accounts.data)
    assert connection.summary is not None and "••" in connection.summary


def test_a_logo_is_fetched_as_a_data_url(emulator: Emulator) -> None:
    client = BasiqClient(emulator.url)
    token = client.token(emulator.api_key, "SERVER_ACCESS").access_token
    url = client.institution(token, "AU00000").logo_url
    assert url is not None
    logo = client.image(url)
    assert logo.startswith("data:image/svg+xml;base64,")
    assert emulator.url not in logo
    assert base64.b64decode(logo.split(",", 1)[1]).startswith(b"<svg")


def serve_bytes(content_type: str, body: bytes, *, length: bool = True) -> Any:
    def app(environ: object, start_response: Any) -> list[bytes]:
        headers = [("Content-Type", content_type)]
        if length:
            headers.append(("Content-Length", str(len(body))))
        start_response("200 OK", headers)
        return [body]

    return app


@pytest.mark.parametrize(
    ("content_type", "body", "length", "reason"),
    [
        ("text/html", b"<html>", True, "not an image"),
        ("application/json", b"{}", True, "not an image"),
        ("", b"GIF89a", True, "not an image"),
        ("image/png", b"x" * (100 * 1024 + 1), True, "larger than 100 KB"),
        ("image/png", b"x" * (100 * 1024 + 1), False, "larger than 100 KB"),
    ],
)
def test_a_logo_that_is_not_a_small_image_is_refused(
    content_type: str, body: bytes, length: bool, reason: str
) -> None:
    with (
        Serving(serve_bytes(content_type, body, length=length)) as serving,
        pytest.raises(ApiResponseError, match=reason),
    ):
        BasiqClient(serving.url).image(f"{serving.url}/logo")


def test_a_logo_address_must_be_a_web_address() -> None:
    client = BasiqClient("http://127.0.0.1:9")
    for url in ("file:///etc/passwd", "data:image/png;base64,AAAA", "javascript:alert(1)", ""):
        with pytest.raises(ApiResponseError, match="not a web address"):
            client.image(url)
    with pytest.raises(ApiUnavailable, match="logo"):
        client.image("http://127.0.0.1:9/logo.svg")

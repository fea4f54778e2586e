"""The reference server's routes over HTTP, with the emulator as Basiq."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests

from blink_desktop.basiq import BasiqClient, KeyHolder
from blink_desktop.emulator import Emulator, Fault
from blink_desktop.errors import BlinkError, StoreError
from blink_desktop.server import build_server, create_app
from blink_desktop.server.store import (
    ConnectionEvent,
    ReceivedWebhook,
    ReportedConnection,
    Resolution,
    Unresolved,
)
from blink_desktop.settings import load_settings
from tests.conftest import serving
from tests.server.conftest import CLIENT, Running, claims


def refusal(reply: requests.Response) -> tuple[int, str, str]:
    """(status, errorMessage, error.code) of an error answer, after checking its envelope."""
    assert reply.headers["Content-Type"] == "application/json"
    body = reply.json()
    assert body["success"] is False
    assert set(body) == {"success", "errorMessage", "error"}
    return reply.status_code, body["errorMessage"], body["error"]["code"]


def test_the_same_email_twice_is_one_basiq_user(
    serve: Callable[..., Running], emulator: Emulator
) -> None:
    server = serve()
    first = server.post("/user", {"email": "Gavin@Hooli.com", "client_id": CLIENT})
    second = server.post("/user", {"email": " gavin@hooli.com ", "client_id": CLIENT})
    assert first.status_code == second.status_code == 200
    assert first.json() == {
        "success": True,
        "result": {"type": "user", "id": first.json()["result"]["id"], "email": "gavin@hooli.com"},
    }
    assert first.json()["result"]["id"] == second.json()["result"]["id"]
    assert emulator.state.count_users() == 1
    assert server.server.store.basiq_user("gavin@hooli.com") == first.json()["result"]["id"]


def test_a_mobile_number_in_the_email_field_is_a_basiq_user(
    serve: Callable[..., Running], emulator: Emulator
) -> None:
    """What the desktop app sends for a person who gave their mobile number."""
    server = serve()
    first = server.post("/user", {"email": "0412 345 678", "client_id": CLIENT})
    second = server.post("/user", {"email": "0412-345-678", "client_id": CLIENT})
    assert first.status_code == second.status_code == 200
    result = first.json()["result"]
    assert result == {"type": "user", "id": result["id"], "mobile": "0412345678"}
    assert second.json()["result"]["id"] == result["id"]
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
    assert result["expires_in"] == 3600 and isinstance(result["expires_in"], int)
    assert claims(result["access_token"])["scope"] == "CLIENT_ACCESS"
    assert "userid" not in claims(result["access_token"])


def test_under_version_3_client_tokens_are_bound_to_the_user(serve: Callable[..., Running]) -> None:
    server = serve(version="3.0")
    user = server.post("/user", {"email": "a@b.co", "client_id": CLIENT}).json()["result"]["id"]
    bound = server.post("/access_token", {"client_id": CLIENT, "user_id": user}).json()["result"]
    assert claims(bound["access_token"])["userid"] == user
    for body in ({"client_id": CLIENT}, {"client_id": CLIENT, "user_id": None}):
        assert refusal(server.post("/access_token", body)) == (
            400,
            "user_id is required: client tokens are bound to a user.",
            "user_id-missing",
        )


def test_before_version_3_client_tokens_are_not_bound(serve: Callable[..., Running]) -> None:
    server = serve(version="2.1")
    user = server.post("/user", {"email": "a@b.co", "client_id": CLIENT}).json()["result"]["id"]
    reply = server.post("/access_token", {"client_id": CLIENT, "user_id": user})
    assert "userid" not in claims(reply.json()["result"]["access_token"])


MISSING_ID = (400, "Client ID not received", "client-id-missing")
BAD_ID = (401, "Client ID is not valid.", "client-id-invalid")


@pytest.mark.parametrize(
    ("body", "headers", "answer"),
    [
        ({"email": "a@b.co"}, {}, MISSING_ID),
        ({"email": "a@b.co", "client_id": ""}, {}, MISSING_ID),
        ({"email": "a@b.co", "client_id": 0}, {}, MISSING_ID),
        (None, {}, MISSING_ID),
        ({"email": "a@b.co", "client_id": "wrong"}, {}, BAD_ID),
        ({"email": "a@b.co", "client_id": CLIENT + "x"}, {}, BAD_ID),
        ({"email": "a@b.co", "client_id": CLIENT[:-1]}, {}, BAD_ID),
        ({"email": "a@b.co", "client_id": 7}, {}, BAD_ID),
        ({"email": "a@b.co", "client_id": [CLIENT]}, {}, BAD_ID),
        ({"email": "a@b.co"}, {"X-Client-Id": "wrong"}, BAD_ID),
        # The header wins over the body.
        ({"email": "a@b.co", "client_id": CLIENT}, {"X-Client-Id": "wrong"}, BAD_ID),
        # Checked before the fields, so a stranger learns nothing about them.
        ({"email": "nope", "client_id": "wrong"}, {}, BAD_ID),
    ],
)
def test_a_bad_client_id_is_refused(
    serve: Callable[..., Running],
    emulator: Emulator,
    body: Any,
    headers: dict[str, str],
    answer: tuple[int, str, str],
) -> None:
    assert refusal(serve().post("/user", body, **headers)) == answer
    assert emulator.state.count_users() == 0


def test_client_id_in_a_header_is_accepted(serve: Callable[..., Running]) -> None:
    server = serve()
    assert server.post("/user", {"email": "a@b.co"}, **{"X-Client-Id": CLIENT}).status_code == 200
    with_wrong_body = {"email": "a@b.co", "client_id": "wrong"}
    assert server.post("/user", with_wrong_body, **{"X-Client-Id": CLIENT}).status_code == 200


@pytest.mark.parametrize(
    ("path", "body", "answer"),
    [
        ("/user", {}, (400, "Email not received", "email-missing")),
        ("/user", {"email": None}, (400, "Email not received", "email-missing")),
        ("/user", {"email": ""}, (400, "Email not received", "email-missing")),
        ("/user", {"email": "  "}, (400, "email is not valid.", "email-invalid")),
        ("/user", {"email": "nope"}, (400, "email is not valid.", "email-invalid")),
        ("/user", {"email": "a@b"}, (400, "email is not valid.", "email-invalid")),
        ("/user", {"email": "1234"}, (400, "email is not valid.", "email-invalid")),
        ("/user", {"email": 5}, (400, "email is not valid.", "email-invalid")),
        ("/user", {"email": ["a@b.co"]}, (400, "email is not valid.", "email-invalid")),
        ("/access_token", {"user_id": ""}, (400, "user_id not received", "user_id-missing")),
        ("/access_token", {"user_id": "bad id"}, (400, "user_id is not valid.", "user_id-invalid")),
        ("/access_token", {"user_id": 3}, (400, "user_id is not valid.", "user_id-invalid")),
        (
            "/access_token",
            {"user_id": "x" * 129},
            (400, "user_id is not valid.", "user_id-invalid"),
        ),
        ("/connections", {}, (400, "user_id not received", "user_id-missing")),
        ("/connections", {"connection_id": "c"}, (400, "user_id not received", "user_id-missing")),
        (
            "/connections",
            {"user_id": "u"},
            (400, "connection_id not received", "connection_id-missing"),
        ),
        (
            "/connections",
            {"user_id": "u", "connection_id": "c/1"},
            (400, "connection_id is not valid.", "connection_id-invalid"),
        ),
        (
            "/connections",
            {"user_id": "u!", "connection_id": ""},
            (400, "user_id is not valid.", "user_id-invalid"),
        ),
    ],
)
def test_bad_fields_are_refused_with_their_message_and_code(
    serve: Callable[..., Running],
    emulator: Emulator,
    path: str,
    body: dict[str, Any],
    answer: tuple[int, str, str],
) -> None:
    assert refusal(serve().post(path, {**body, "client_id": CLIENT})) == answer
    assert emulator.state.count_users() == 0


@pytest.mark.parametrize(
    ("raw", "answer"),
    [
        (b"[1]", (400, "The request body must be a JSON object.", "invalid-json")),
        (b'"x"', (400, "The request body must be a JSON object.", "invalid-json")),
        (b"{not json", (400, "The request body must be JSON.", "invalid-json")),
        (b"\xff\xfe", (400, "The request body must be JSON.", "invalid-json")),
        (b"", (400, "Email not received", "email-missing")),
        (b"{" + b" " * 64 * 1024 + b"}", (413, "The request body is too large.", "body-too-large")),
    ],
)
def test_a_body_that_is_not_a_json_object_is_refused(
    serve: Callable[..., Running], raw: bytes, answer: tuple[int, str, str]
) -> None:
    reply = requests.post(
        serve().url + "/user",
        data=raw,
        headers={"Content-Type": "application/json", "X-Client-Id": CLIENT},
        timeout=10,
    )
    assert refusal(reply) == answer


def test_unknown_paths_and_methods_answer_in_the_envelope(serve: Callable[..., Running]) -> None:
    server = serve()
    assert refusal(server.get("/nothing")) == (404, "No GET /nothing here.", "not-found")
    assert refusal(server.get("/user")) == (405, "No GET /user here.", "not-found")
    deleted = requests.delete(server.url + "/health", timeout=10)
    assert refusal(deleted) == (405, "No DELETE /health here.", "not-found")


def test_upstream_failures_give_clean_errors(
    serve: Callable[..., Running], emulator: Emulator
) -> None:
    server = serve()
    emulator.faults.add(Fault(route="POST /token", status=503))
    status, message, code = refusal(server.post("/access_token", {"client_id": CLIENT}))
    assert (status, code) == (503, "upstream-unavailable")
    assert "503" in message
    emulator.faults.clear()
    emulator.faults.add(Fault(route="POST /users", status=500))
    status, message, code = refusal(server.post("/user", {"email": "x@y.co", "client_id": CLIENT}))
    assert (status, code) == (503, "upstream-unavailable")
    assert server.server.store.basiq_user("x@y.co") is None


def test_basiq_error_detail_comes_back_as_an_error(
    serve: Callable[..., Running], caplog: pytest.LogCaptureFixture
) -> None:
    reply = serve(api_key="not-the-key").post("/access_token", {"client_id": CLIENT})
    status, message, code = refusal(reply)
    assert (status, code) == (502, "upstream-refused")
    assert "check your API key" in message
    assert any(
        record.name == "blink_desktop.server" and record.levelno == logging.ERROR
        for record in caplog.records
    )


def test_the_key_appears_in_no_response_and_no_log_line(
    serve: Callable[..., Running], emulator: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    server = serve()
    made = server.post("/user", {"email": "a@b.co", "client_id": CLIENT})
    user = made.json()["result"]["id"]
    replies = [
        made,
        server.post("/access_token", {"client_id": CLIENT}),
        server.post("/access_token", {"client_id": "bad"}),
        server.post("/connections", {"client_id": CLIENT, "user_id": user, "connection_id": "c"}),
        server.get("/health"),
        server.get("/nothing"),
    ]
    emulator.faults.add(Fault(route="POST /token", status=500))
    replies.append(server.post("/access_token", {"client_id": CLIENT}))
    for reply in replies:
        assert emulator.api_key not in reply.text
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert emulator.api_key not in logged
    lines = [
        record.getMessage() for record in caplog.records if record.name == "blink_desktop.server"
    ]
    for request in ("POST /user 200", "POST /access_token 401", "POST /connections 201"):
        assert any(line.startswith(request + " ") for line in lines), (request, lines)
    assert any(line.startswith("GET /nothing 404 ") for line in lines)


def test_connections_are_recorded_and_listed_per_user(serve: Callable[..., Running]) -> None:
    server = serve()
    u1, u2 = (
        server.post("/user", {"email": email, "client_id": CLIENT}).json()["result"]["id"]
        for email in ("one@b.co", "two@b.co")
    )
    for connection in ("c1", "c2", "c1"):
        body = {"client_id": CLIENT, "user_id": u1, "connection_id": connection}
        reply = server.post("/connections", body)
        assert reply.status_code == 201
        assert reply.json() == {
            "success": True,
            "result": {"user_id": u1, "connection_id": connection},
        }
    trimmed = {"client_id": CLIENT, "user_id": f" {u2} ", "connection_id": " c3 "}
    assert server.post("/connections", trimmed).json()["result"] == {
        "user_id": u2,
        "connection_id": "c3",
    }
    listed = server.get(f"/users/{u1}/connections", **{"X-Client-Id": CLIENT}).json()["result"]
    assert sorted(item["id"] for item in listed) == ["c1", "c2"]
    assert all(set(item) == {"id", "created", "status"} for item in listed)
    assert {item["status"] for item in listed} == {"reported"}
    other = server.get(f"/users/{u2}/connections", **{"X-Client-Id": CLIENT}).json()["result"]
    assert [item["id"] for item in other] == ["c3"]
    elsewhere = {"client_id": CLIENT, "user_id": u2, "connection_id": "c1"}  # u1's
    assert refusal(server.post("/connections", elsewhere)) == (
        409,
        "That connection was reported for another user; a connection has one user.",
        "connection-elsewhere",
    )
    again = server.get(f"/users/{u2}/connections", **{"X-Client-Id": CLIENT}).json()["result"]
    assert [item["id"] for item in again] == ["c3"]
    three = server.post("/user", {"email": "three@b.co", "client_id": CLIENT})
    none_yet = f"/users/{three.json()['result']['id']}/connections"
    assert server.get(none_yet, **{"X-Client-Id": CLIENT}).json() == {"success": True, "result": []}
    assert refusal(server.get(f"/users/{u1}/connections")) == MISSING_ID
    assert refusal(server.get(f"/users/{u1}/connections", **{"X-Client-Id": "nope"})) == BAD_ID
    assert refusal(server.get("/users/u!x/connections", **{"X-Client-Id": CLIENT})) == (
        400,
        "user_id is not valid.",
        "user_id-invalid",
    )
    assert server.get("/health").json() == {"success": True, "result": {"status": "ok"}}


class BrokenStore:
    """A store whose lookups crash, or fail as a full disk does."""

    def __init__(self, failure: Exception) -> None:
        self.failure = failure

    def basiq_user(self, identifier: str) -> str | None:
        raise self.failure

    def user_for(self, identifier: str, create: Callable[[], str]) -> str:
        raise self.failure

    def report(self, connection_id: str, basiq_user_id: str) -> str:
        raise self.failure

    def connections_of(self, basiq_user_id: str) -> list[ReportedConnection]:
        raise self.failure

    def admit(self, basiq_user_id: str, client: str) -> None:
        raise self.failure

    def admits(self, basiq_user_id: str, client: str) -> bool:
        raise self.failure

    def record_webhook(self, webhook: ReceivedWebhook) -> bool:
        raise self.failure

    def connection_events(self, basiq_user_id: str) -> list[ConnectionEvent]:
        raise self.failure

    def unresolved_webhooks(self, limit: int) -> list[Unresolved]:
        raise self.failure

    def claim_webhook(self, webhook: Unresolved, retry_in: float) -> bool:
        raise self.failure

    def resolve_webhook(self, message_id: str, resolution: Resolution) -> None:
        raise self.failure

    def check(self) -> None:
        raise self.failure

    def close(self) -> None:
        pass


def test_a_crash_is_an_internal_error_in_the_envelope_and_logged(
    emulator: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    keyholder = KeyHolder(BasiqClient(emulator.url), emulator.api_key)
    app = create_app(keyholder, BrokenStore(RuntimeError("boom")), [CLIENT])
    with serving(app) as url:
        reply = requests.get(
            f"{url}/users/u1/connections", headers={"X-Client-Id": CLIENT}, timeout=10
        )
    assert refusal(reply) == (500, "The server failed; its log has the details.", "internal-error")
    assert "boom" not in reply.text
    assert any("RuntimeError('boom')" in record.getMessage() for record in caplog.records)


def test_a_store_failure_is_an_error_answer_with_its_message(emulator: Emulator) -> None:
    keyholder = KeyHolder(BasiqClient(emulator.url), emulator.api_key)
    app = create_app(keyholder, BrokenStore(StoreError("Could not save the connection")), [CLIENT])
    with serving(app) as url:
        reply = requests.post(
            f"{url}/connections",
            json={"client_id": CLIENT, "user_id": "u", "connection_id": "c"},
            timeout=10,
        )
    assert refusal(reply) == (502, "Could not save the connection", "upstream-error")


def test_an_app_needs_a_client_id_to_accept(emulator: Emulator) -> None:
    keyholder = KeyHolder(BasiqClient(emulator.url), emulator.api_key)
    with pytest.raises(BlinkError, match="BLINK_DESKTOP_CLIENT_IDS"):
        create_app(keyholder, BrokenStore(RuntimeError()), [])


def test_past_basiqs_token_rate_limit_the_answer_is_at_once_with_retry_after(
    tmp_path: Path,
) -> None:
    """Past the upstream's /token limit the server answered only after retrying 3 x 10 s."""
    with Emulator(token_rate_limit=2) as limited:
        settings = load_settings(api_key=limited.api_key, api_url=limited.url, client_ids=[CLIENT])
        server = build_server(settings, database=tmp_path / "server.sqlite")
        try:
            with serving(server.app) as url:
                running = Running(server, url)
                for _ in range(2):
                    assert running.post("/access_token", {"client_id": CLIENT}).ok
                started = time.monotonic()
                reply = running.post("/access_token", {"client_id": CLIENT})
                took = time.monotonic() - started
        finally:
            server.close()
    assert took < 2
    status, message, code = refusal(reply)
    assert (status, code) == (503, "upstream-rate-limited")
    retry_after = int(reply.headers["Retry-After"])
    assert 0 < retry_after <= 301
    assert "limiting requests (429" in message and f"Retry in {retry_after} s." in message


def test_a_busy_basiq_that_says_when_is_passed_on_at_once(
    serve: Callable[..., Running], emulator: Emulator
) -> None:
    server = serve()
    emulator.faults.add(Fault(route="POST /token", status=503, retry_after=7))
    started = time.monotonic()
    reply = server.post("/access_token", {"client_id": CLIENT})
    assert time.monotonic() - started < 2  # was 3 x 7 s of retries
    status, message, code = refusal(reply)
    assert (status, code, reply.headers["Retry-After"]) == (503, "upstream-unavailable", "7")
    assert "not available right now (503" in message and "Retry in 7 s." in message


UNKNOWN_USER = (
    404,
    "This app has no user with that id here: ask POST /user for it first.",
    "user-unknown",
)


@pytest.mark.parametrize("version", ["2.1", "3.0"])
def test_a_client_reaches_only_the_users_it_asked_for(
    serve: Callable[..., Running], version: str
) -> None:
    server = serve(version=version, client_ids=[CLIENT, "another-app"])
    mine = server.post("/user", {"email": "a@b.co", "client_id": CLIENT}).json()["result"]["id"]
    theirs = server.post("/user", {"email": "z@b.co", "client_id": "another-app"})
    other = theirs.json()["result"]["id"]
    report = {"client_id": CLIENT, "user_id": mine, "connection_id": "c1"}
    assert server.post("/connections", report).status_code == 201
    for user in (other, "never-made-here"):
        assert refusal(server.post("/connections", {**report, "user_id": user})) == UNKNOWN_USER
        listing = server.get(f"/users/{user}/connections", **{"X-Client-Id": CLIENT})
        assert refusal(listing) == UNKNOWN_USER
    # The other client's user is not touched: its own client still lists it, empty.
    listing = server.get(f"/users/{other}/connections", **{"X-Client-Id": "another-app"})
    assert listing.json()["result"] == []
    # A token for a user, bound (3.0) or for Blink's URL (before): for this client's own only.
    for user in (other, "never-made-here"):
        token = server.post("/access_token", {"client_id": CLIENT, "user_id": user})
        assert refusal(token) == UNKNOWN_USER
    own = server.post("/access_token", {"client_id": CLIENT, "user_id": mine}).json()
    assert claims(own["result"]["access_token"]).get("userid") == (
        mine if version == "3.0" else None
    )

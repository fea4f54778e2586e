"""No request bytes make the emulator answer 500 (issue 11, item 16): bodies, headers, queries.

Requests go out through http.client, which sends header values as the bytes it is given, as a
hostile client would. Header values keep to what HTTP allows in a field (visible ASCII, space,
tab and obs-text 0x80-0xFF): control bytes are the HTTP server's to refuse, not the emulator's.
"""

from __future__ import annotations

import http.client
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote_from_bytes, urlsplit

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from blink_desktop.emulator import Emulator

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"
HYPOTHESIS = settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@dataclass
class Answer:
    status: int
    content_type: str
    body: bytes

    def error(self) -> dict[str, Any]:
        """The single error of Basiq's envelope, after checking the envelope itself."""
        assert self.content_type == JSON, (self.status, self.body[:200])
        envelope = json.loads(self.body)
        assert envelope["type"] == "list" and envelope["correlationId"], envelope
        [error] = envelope["data"]
        assert error["type"] == "error", error
        return dict(error)


class Client:
    """Raw HTTP to one emulator: header values go out as the exact bytes given."""

    def __init__(self, emulator: Emulator) -> None:
        parts = urlsplit(emulator.url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.api_key = emulator.api_key

    def send(
        self, method: str, target: str, headers: dict[str, bytes], body: bytes = b""
    ) -> Answer:
        connection = http.client.HTTPConnection(self.host, self.port, timeout=10)
        try:
            connection.putrequest(method, target, skip_host="host" in map(str.lower, headers))
            for name, value in headers.items():
                connection.putheader(name, value)
            if method != "GET" or body:
                connection.putheader("Content-Length", str(len(body)))
            connection.endheaders(body or None)
            response = connection.getresponse()
            return Answer(response.status, response.getheader("Content-Type", ""), response.read())
        finally:
            connection.close()

    def token(self, scope: str = "SERVER_ACCESS", version: str = "2.1") -> str:
        answer = self.send(
            "POST",
            "/token",
            {
                "Authorization": f"Basic {self.api_key}".encode(),
                "basiq-version": version.encode(),
                "Content-Type": FORM.encode(),
            },
            f"scope={scope}".encode(),
        )
        assert answer.status == 200, answer.body
        return str(json.loads(answer.body)["access_token"])

    def post_json(self, path: str, token: str, body: Any) -> dict[str, Any]:
        answer = self.send(
            "POST",
            path,
            {"Authorization": f"Bearer {token}".encode(), "Content-Type": JSON.encode()},
            json.dumps(body).encode(),
        )
        assert answer.status in (201, 202), answer.body
        return dict(json.loads(answer.body))


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    authorization: str
    content_type: str = ""
    body: bytes = b""

    def headers(self) -> dict[str, bytes]:
        headers = {"Authorization": self.authorization.encode(), "basiq-version": b"2.1"}
        if self.content_type:
            headers["Content-Type"] = self.content_type.encode()
        return headers


@dataclass(frozen=True)
class World:
    client: Client
    routes: list[Route]

    @property
    def json_posts(self) -> list[Route]:
        return [route for route in self.routes if route.content_type == JSON]


@pytest.fixture
def world() -> Iterator[World]:
    """An emulator holding a user, a connection and its job, and every kind of JSON route."""
    with Emulator(token_rate_limit=1_000_000) as emulator:
        client = Client(emulator)
        server, mfa_client = client.token(), client.token("CLIENT_ACCESS", "2.1")
        user = client.post_json("/users", server, {"email": "hostile@x.co"})["id"]
        connect = {"loginId": "jared", "password": "django", "institution": {"id": "AU00002"}}
        job = client.post_json(f"/users/{user}/connections", mfa_client, connect)["id"]
        basic, bearer, client_bearer = (
            f"Basic {emulator.api_key}",
            f"Bearer {server}",
            f"Bearer {mfa_client}",
        )
        body = json.dumps(connect).encode()
        routes = [
            Route("POST", "/token", basic, FORM, b"scope=CLIENT_ACCESS"),
            Route("POST", "/token", basic, JSON, b'{"scope": "SERVER_ACCESS"}'),
            Route("POST", "/users", bearer, JSON, b'{"email": "a@b.co"}'),
            Route("POST", f"/users/{user}", bearer, JSON, b'{"firstName": "Ann"}'),
            Route("POST", f"/users/{user}/connections", client_bearer, JSON, body),
            Route("POST", f"/users/{user}/connections/missing", client_bearer, JSON, body),
            Route("POST", f"/jobs/{job}/mfa", client_bearer, JSON, b'{"mfa-response": ["0"]}'),
            Route("GET", f"/users/{user}", bearer),
            Route("GET", f"/jobs/{job}", bearer),
            Route("GET", "/institutions", bearer),
            Route("GET", "/public/institutions", ""),
            Route("GET", f"/users/{user}/transactions", bearer),
            Route("DELETE", f"/users/{user}/connections/missing", bearer),
        ]
        yield World(client, routes)


def no_traceback(capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture) -> None:
    assert "Traceback" not in capfd.readouterr().err
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING or r.exc_info]


DEEP = [b"[" * 100_000, b'{"a":' * 50_000, b"[" * 5_000 + b"]" * 5_000]


@pytest.mark.parametrize("body", DEEP, ids=["open-arrays", "open-objects", "closed-arrays"])
def test_deeply_nested_json_is_a_400_on_every_json_route(
    world: World,
    body: bytes,
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    for route in world.json_posts:
        answer = world.client.send(route.method, route.path, route.headers(), body)
        assert answer.status == 400, (route, answer.body[:300])
        assert answer.error()["code"] == "parameter-not-valid"
    no_traceback(capfd, caplog)


def test_a_lone_surrogate_in_a_json_string_is_a_400(world: World) -> None:
    # JSON can spell half of a UTF-16 pair ("\ud800"); no text holds one, and storing it failed.
    for body in (
        b'{"loginId": "\\udc00", "password": "x", "institution": {"id": "AU00000"}}',
        b'{"email": "a@b.co", "firstName": "\\ud800"}',
        b'{"\\ud800": 1}',
    ):
        for route in world.json_posts:
            answer = world.client.send(route.method, route.path, route.headers(), body)
            assert answer.status == 400, (route, body, answer.body[:300])
            assert answer.error()["code"] == "parameter-not-valid"


@pytest.mark.parametrize(
    "authorization",
    [b"Bearer a.b.\xe9", b"Bearer \xff\xfe", b"Basic \xe9", b"\xe9", b"Bearer \xc3\xa9.x.y"],
)
def test_an_authorization_header_that_is_not_utf8_is_refused_not_a_crash(
    world: World,
    authorization: bytes,
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    for route in world.routes:
        if not route.authorization:
            continue
        headers = {**route.headers(), "Authorization": authorization}
        answer = world.client.send(route.method, route.path, headers, route.body)
        assert 400 <= answer.status < 500, (route, answer.body[:300])
        answer.error()
    no_traceback(capfd, caplog)


def test_a_basiq_version_that_is_not_utf8_is_a_400(world: World) -> None:
    token = world.routes[0]
    answer = world.client.send(
        "POST", "/token", {**token.headers(), "basiq-version": b"2.\xe9"}, token.body
    )
    assert answer.status == 400
    assert answer.error()["code"] == "parameter-not-valid"


@pytest.mark.parametrize("length", [b"abc", b"-1", b"1e3", b"0x10", b"\xe9"])
def test_a_content_length_that_is_not_a_number_is_a_400(world: World, length: bytes) -> None:
    route = world.json_posts[1]
    connection = http.client.HTTPConnection(world.client.host, world.client.port, timeout=10)
    try:
        connection.putrequest("POST", route.path)
        for name, value in {**route.headers(), "Content-Length": length}.items():
            connection.putheader(name, value)
        connection.endheaders(b"{}")
        assert connection.getresponse().status == 400
    finally:
        connection.close()


def send_chunked(world: World, chunks: list[bytes], *, end: bytes = b"0\r\n\r\n") -> int:
    """POST /users with a chunked body (each item a whole chunk, size line and all)."""
    route = world.json_posts[1]
    connection = http.client.HTTPConnection(world.client.host, world.client.port, timeout=30)
    try:
        connection.putrequest("POST", route.path)
        for name, value in {**route.headers(), "Transfer-Encoding": b"chunked"}.items():
            connection.putheader(name, value)
        connection.endheaders()
        for chunk in chunks:
            connection.send(chunk)
        connection.send(end)
        return connection.getresponse().status
    finally:
        connection.close()


def chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


def test_a_chunked_body_is_read_and_its_size_limit_holds(world: World) -> None:
    # The 1 MiB limit held for Content-Length only: chunked bodies of any size were taken.
    assert send_chunked(world, [chunk(b'{"email": '), chunk(b'"chunked@x.co"}')]) == 201
    half = chunk(b" " * (600 * 1024))
    assert send_chunked(world, [chunk(b'{"email": "a@b.co"'), half, half, chunk(b"}")]) == 413


@pytest.mark.parametrize(
    ("chunks", "end"),
    [
        ([b"zz\r\n{}\r\n"], b"0\r\n\r\n"),  # a size that is not hexadecimal
        ([b"2\r\n{}XX"], b"0\r\n\r\n"),  # no CRLF after the chunk
        ([b"-2\r\n{}\r\n"], b"0\r\n\r\n"),
    ],
)
def test_a_malformed_chunked_body_is_a_400(world: World, chunks: list[bytes], end: bytes) -> None:
    assert send_chunked(world, chunks, end=end) == 400


# Any byte an HTTP field value may hold: HTAB, SP, visible ASCII and obs-text.
FIELD_BYTES = st.sampled_from([9, *range(32, 127), *range(128, 256)])
FIELD_VALUE = st.lists(FIELD_BYTES, max_size=60).map(bytes)
HEADER_NAMES = [
    "Authorization",
    "basiq-version",
    "Content-Type",
    "Accept",
    "Host",
    "X-Forwarded-Host",
    "X-Forwarded-Proto",
    "X-Forwarded-For",
    "Origin",
]
HEADER_VALUES = st.one_of(
    FIELD_VALUE,
    st.builds(lambda tail: b"Bearer " + tail, FIELD_VALUE),
    st.builds(lambda tail: b"Basic " + tail, FIELD_VALUE),
    st.builds(lambda a, b: b"Bearer " + a + b"." + b + b".c", FIELD_VALUE, FIELD_VALUE),
    st.sampled_from([b"application/json", b"application/json; charset=\xe9", b"2.1", b"3.0"]),
)


@HYPOTHESIS
@given(
    index=st.integers(min_value=0),
    headers=st.dictionaries(st.sampled_from(HEADER_NAMES), HEADER_VALUES, min_size=1, max_size=3),
)
@example(index=2, headers={"Authorization": b"Bearer a.b.\xe9"})
@example(index=0, headers={"Authorization": b"Basic \xe9"})
@example(index=1, headers={"basiq-version": b"\xff"})
@example(index=9, headers={"Host": b"\xe9vil", "X-Forwarded-Host": b"\xff"})
def test_no_header_bytes_make_any_route_answer_500(
    world: World, index: int, headers: dict[str, bytes]
) -> None:
    route = world.routes[index % len(world.routes)]
    answer = world.client.send(route.method, route.path, {**route.headers(), **headers}, route.body)
    assert answer.status < 500, (route, headers, answer.body[:300])
    if answer.status >= 400:
        answer.error()


JSON_TEXT = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=8,
).map(lambda value: json.dumps(value).encode())
BODIES = st.one_of(
    st.binary(max_size=200),
    JSON_TEXT,
    st.builds(
        lambda depth, inner: b"[" * depth + inner + b"]" * depth, st.integers(0, 3000), JSON_TEXT
    ),
    st.builds(lambda raw: b'{"loginId": "' + raw + b'"}', FIELD_VALUE),
    st.sampled_from([b"NaN", b"-Infinity", b'{"scope": NaN}', b"1" * 5000, b'"\\ud800"']),
)


@HYPOTHESIS
@given(index=st.integers(min_value=0), body=BODIES)
@example(index=0, body=b"[" * 100_000)
@example(index=1, body=b"[" * 100_000)
@example(index=4, body=b'{"loginId": "\\udc00", "password": "x", "institution": {"id": "AU00000"}}')
def test_no_body_bytes_make_any_json_route_answer_500(
    world: World, index: int, body: bytes
) -> None:
    routes = [route for route in world.routes if route.method == "POST"]
    route = routes[index % len(routes)]
    answer = world.client.send(route.method, route.path, route.headers(), body)
    assert answer.status < 500, (route, body[:100], answer.body[:300])
    if answer.status >= 400:
        answer.error()


@HYPOTHESIS
@given(
    index=st.integers(min_value=0),
    name=st.sampled_from(["filter", "limit", "next"]),
    raw=st.binary(max_size=80),
)
def test_no_query_bytes_make_any_route_answer_500(
    world: World, index: int, name: str, raw: bytes
) -> None:
    gets = [route for route in world.routes if route.method == "GET"]
    route = gets[index % len(gets)]
    target = f"{route.path}?{name}={quote_from_bytes(raw)}"
    answer = world.client.send(route.method, target, route.headers())
    assert answer.status < 500, (route, raw, answer.body[:300])
    if answer.status >= 400:
        answer.error()

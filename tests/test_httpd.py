"""The HTTP serving both servers share: a real server on port 0, JSON errors, one log line,
and what it does under load and hostile input (issue 11, item 20)."""

from __future__ import annotations

import json
import logging
import signal
import socket
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import ExitStack
from typing import Any
from urllib.parse import urlsplit

import bottle
import pytest
import requests

from blink_desktop.httpd import (
    Environ,
    HttpProblem,
    JsonErrors,
    Serving,
    StartResponse,
    access_log,
    json_response,
)
from tests.conftest import wait_for

log = logging.getLogger("tests.httpd")


class Oops(HttpProblem):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.headers = {"X-Why": "test"}

    def body(self) -> dict[str, Any]:
        return {"ok": False, "message": str(self)}


class Converted(Exception):
    pass


def app() -> bottle.Bottle:
    web = bottle.Bottle(catchall=True)
    web.install(
        JsonErrors(
            lambda status: Oops(status, f"fallback {status}"),
            convert=lambda exc: Oops(502, "converted") if isinstance(exc, Converted) else None,
            logger=log,
        )
    )

    def ok() -> Any:
        return json_response({"ok": True}, 201, {"X-Extra": "1"})

    def problem() -> Any:
        raise Oops(409, "taken")

    def converted() -> Any:
        raise Converted

    def crash() -> Any:
        raise RuntimeError("secret detail")

    for path, callback in (
        ("/ok", ok),
        ("/problem", problem),
        ("/converted", converted),
        ("/crash", crash),
    ):
        web.route(path, "GET", callback)
    return web


def test_answers_and_errors_are_json_in_the_products_envelope(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with Serving(access_log(app(), log)) as serving:
        assert serving.url.startswith("http://127.0.0.1:") and serving.port > 0
        ok = requests.get(f"{serving.url}/ok", timeout=10)
        assert (ok.status_code, ok.json(), ok.headers["X-Extra"]) == (201, {"ok": True}, "1")
        taken = requests.get(f"{serving.url}/problem", timeout=10)
        assert (taken.status_code, taken.json()["message"]) == (409, "taken")
        assert taken.headers["Content-Type"] == "application/json"
        assert taken.headers["X-Why"] == "test"
        converted = requests.get(f"{serving.url}/converted", timeout=10)
        assert (converted.status_code, converted.json()["message"]) == (502, "converted")
        missing = requests.get(f"{serving.url}/nowhere", timeout=10)
        assert (missing.status_code, missing.json()["message"]) == (404, "fallback 404")
        wrong = requests.post(f"{serving.url}/ok", timeout=10)
        assert (wrong.status_code, wrong.json()["message"]) == (405, "fallback 405")
        with caplog.at_level(logging.DEBUG, logger="tests.httpd"):
            crash = requests.get(f"{serving.url}/crash?access_token=abc", timeout=10)
        assert (crash.status_code, crash.json()["message"]) == (500, "fallback 500")
        assert "secret detail" not in crash.text
    lines = [r.getMessage() for r in caplog.records]
    [error] = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert error.startswith("internal error on GET /crash: RuntimeError('secret detail')")
    assert "Traceback" not in error  # one line at ERROR; the traceback only at DEBUG
    assert any(r.levelno == logging.DEBUG and "Traceback" in r.getMessage() for r in caplog.records)
    assert any(line.startswith("GET /crash?access_token=[redacted] 500 ") for line in lines)


def test_a_stopped_server_frees_its_port_and_its_threads() -> None:
    before = set(threading.enumerate())
    serving = Serving(app()).start("httpd-under-test")
    url, port = serving.url, serving.port
    assert requests.get(f"{url}/ok", timeout=10).status_code == 201
    started = time.monotonic()
    serving.stop()
    assert time.monotonic() - started < 3
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{url}/ok", timeout=2)
    assert not [t for t in threading.enumerate() if t not in before and t.is_alive()]
    # The port can be taken again at once, as the outbox tests restart a server on its port.
    with Serving(app(), port=port) as again:
        assert requests.get(f"{again.url}/ok", timeout=10).status_code == 201


class Recorder:
    """A WSGI app that answers 200 with what it was sent, and remembers each call."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, bytes]] = []

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length)
        self.calls.append((environ["PATH_INFO"], body))
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"got %d" % len(body)]


def address(serving: Serving) -> tuple[str, int]:
    parts = urlsplit(serving.url)
    return parts.hostname or "", serving.port


def exchange(serving: Serving, request: bytes, timeout: float = 10) -> tuple[int, bytes]:
    """Send raw bytes on a new connection; (status, body) of the answer, read to the close."""
    with socket.create_connection(address(serving), timeout=timeout) as client:
        client.sendall(request)
        return read_answer(client)


def read_answer(client: socket.socket) -> tuple[int, bytes]:
    answer = b""
    while chunk := client.recv(65536):
        answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


def test_twenty_clients_at_once_are_all_answered() -> None:
    """Twenty connections arrive before the server accepts any: the backlog holds them all
    (wsgiref's backlog of 5 left the kernel dropping the rest)."""
    with ExitStack() as stack:
        serving = Serving(Recorder())
        stack.callback(serving.stop)
        clients = [
            stack.enter_context(socket.create_connection(address(serving), timeout=3))
            for _ in range(20)
        ]
        serving.start()
        for number, client in enumerate(clients):
            client.sendall(
                f"GET /{number} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode()
            )
        assert [read_answer(client) for client in clients] == [(200, b"got 0")] * 20


def test_clients_that_never_finish_their_body_hold_no_thread() -> None:
    """60 clients declare 100 bytes and send 2: no thread waits on them (wsgiref gave each one
    its own, for good), and a normal request is answered at once."""
    with ExitStack() as stack:
        recorder = Recorder()
        serving = Serving(recorder).start()
        stack.callback(serving.stop)
        threads = threading.active_count()
        for _ in range(60):
            client = stack.enter_context(socket.create_connection(address(serving), timeout=3))
            client.sendall(b"POST /slow HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{}")
        started = time.monotonic()
        assert requests.get(f"{serving.url}/normal", timeout=5).text == "got 0"
        assert time.monotonic() - started < 2
        assert threading.active_count() <= threads
        assert recorder.calls == [("/normal", b"")]


def chunked(body: bytes, size: int) -> bytes:
    chunks = [body[i : i + size] for i in range(0, len(body), size)]
    return b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for chunk in chunks) + b"0\r\n\r\n"


def post(path: str, headers: str, body: bytes = b"") -> bytes:
    return f"POST {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n{headers}\r\n".encode() + body


def test_a_body_over_the_limit_is_413_however_it_is_sent_and_never_reaches_the_app(
    caplog: pytest.LogCaptureFixture,
) -> None:
    recorder = Recorder()
    with (
        caplog.at_level(logging.INFO, "blink_desktop.httpd"),
        Serving(recorder, max_body=1024) as serving,
    ):
        status, body = exchange(
            serving, post("/big", "Transfer-Encoding: chunked\r\n", chunked(b"x" * 4096, 256))
        )
        assert status == 413
        assert json.loads(body) == {
            "title": "Request Entity Too Large",
            "status": 413,
            "detail": "The request body is over 1024 bytes.",
        }
        assert exchange(serving, post("/big", "Content-Length: 1025\r\n"))[0] == 413
        assert recorder.calls == []
        # Under the limit, a chunked body reaches the app whole, with its Content-Length.
        small = post("/small", "Transfer-Encoding: chunked\r\n", chunked(b"y" * 1000, 1000))
        assert exchange(serving, small) == (200, b"got 1000")
        assert exchange(serving, post("/exact", "Content-Length: 1024\r\n", b"z" * 1024)) == (
            200,
            b"got 1024",
        )
    assert recorder.calls == [("/small", b"y" * 1000), ("/exact", b"z" * 1024)]
    refused = [r.getMessage() for r in caplog.records if r.name == "blink_desktop.httpd"]
    assert refused[0].startswith("POST /big 413 refused: The request body is over 1024 bytes")


@pytest.mark.parametrize("length", ["abc", "-1", "1e3", "0x10", "1, 2"])
def test_a_content_length_that_is_not_a_number_is_a_400(length: str) -> None:
    recorder = Recorder()
    with Serving(recorder) as serving:
        status, body = exchange(serving, post("/x", f"Content-Length: {length}\r\n", b"{}"))
    assert status == 400
    assert json.loads(body)["status"] == 400
    assert recorder.calls == []


def test_ipv6_loopback_is_served_with_a_bracketed_url() -> None:
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
    except OSError:
        pytest.skip("no IPv6 loopback on this machine")
    with Serving(Recorder(), "::1") as serving:
        assert serving.url == f"http://[::1]:{serving.port}"
        assert requests.get(f"{serving.url}/six", timeout=10).text == "got 0"


def test_ctrl_c_in_serve_forever_reaches_the_caller_and_frees_the_port() -> None:
    serving = Serving(app())
    main = threading.get_ident()

    def interrupt() -> None:
        wait_for(lambda: requests.get(f"{serving.url}/ok", timeout=5).status_code == 201)
        signal.pthread_kill(main, signal.SIGINT)

    # A shell that starts the tests in the background leaves SIGINT ignored: Ctrl-C's own here.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    interrupter = threading.Thread(target=interrupt)
    interrupter.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            serving.serve_forever()
    finally:
        interrupter.join(timeout=10)
        signal.signal(signal.SIGINT, previous)
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{serving.url}/ok", timeout=2)


def test_a_crash_past_the_app_is_one_error_line_and_no_traceback_on_the_console(
    caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    def broken(environ: Environ, start_response: StartResponse) -> Iterator[bytes]:
        raise RuntimeError("broken app")

    caplog.set_level(logging.DEBUG)
    with Serving(broken) as serving:
        reply = requests.get(f"{serving.url}/x", timeout=10)
        bottled = Serving(app()).start()
        try:
            assert requests.get(f"{bottled.url}/crash", timeout=10).status_code == 500
        finally:
            bottled.stop()
    assert reply.status_code == 500
    assert reply.json()["status"] == 500 and "broken app" not in reply.text
    # Waitress's own records go only to its handler, which passes them on as below (pytest's
    # capture handler sits on every logger that does not propagate, so it sees them too).
    assert logging.getLogger("waitress").propagate is False
    errors = [
        r for r in caplog.records if r.name == "blink_desktop.httpd" and r.levelname == "ERROR"
    ]
    assert len(errors) == 1
    assert "RuntimeError('broken app')" in errors[0].getMessage() and not errors[0].exc_info
    debug = [r for r in caplog.records if r.name == "blink_desktop.httpd" and r.exc_info]
    assert debug and debug[0].levelno == logging.DEBUG
    # Bottle's traceback of a crash in a route goes to the log at DEBUG, not to stderr.
    assert "Traceback" not in capfd.readouterr().err


def test_a_worker_that_finishes_after_stop_wakes_nothing_and_raises_nothing() -> None:
    # A worker ends each response by waking the loop (waitress: `if channel.connected:
    # server.pull_trigger()`); stop() may close the trigger between the check and the call.
    serving = Serving(lambda environ, start_response: []).start()
    serving.stop()
    serving._server.pull_trigger()  # as such a worker does: no OSError (bad file descriptor)

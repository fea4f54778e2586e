"""What sits in front of every route, as a public API has it: paths, body, CORS, faults.

A WSGI wrapper around the bottle app of routes.py: trailing slashes are dropped, CORS preflights
answered from an allow-list, the body read once and bounded (inputs.py: 400 when malformed, 413
over 1 MiB, however it arrives), every answer gets CORS headers, and injected faults (faults.py)
add latency or answer an error before the route runs (except on the emulator's own controls).
Nothing a request says is copied into an answer's headers.
"""

from __future__ import annotations

import io
import json
import time
from collections.abc import Iterable
from http import HTTPStatus
from typing import Any

from blink_desktop.emulator import inputs, problems
from blink_desktop.emulator.faults import Faults
from blink_desktop.emulator.problems import Problem
from blink_desktop.httpd import JSON, Environ, StartResponse, WsgiApp

CORS_HEADERS = [
    ("Access-Control-Allow-Origin", "*"),
    ("Access-Control-Expose-Headers", "Retry-After"),
]
# What Basiq's browser clients send: Blink sends Authorization and Content-Type (a JSON body);
# Accept is what HTTP libraries add; basiq-version is for a page that asks /token itself. (Blink's
# statement uploader also sends X-Requested-With and Cache-Control, to /statements, which the
# emulator does not serve.) The answer is this list whatever the preflight asked for.
ALLOWED_HEADERS = "Authorization, Content-Type, Accept, basiq-version"
CONTROLS = "/_emulator/"
PREFLIGHT_HEADERS = [
    ("Access-Control-Allow-Methods", "GET, POST, DELETE, OPTIONS"),
    ("Access-Control-Allow-Headers", ALLOWED_HEADERS),
    ("Access-Control-Max-Age", "600"),
]


class Middleware:
    def __init__(self, app: WsgiApp, faults: Faults) -> None:
        self.app = app
        self.faults = faults

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "GET")
        path = environ.get("PATH_INFO", "/")
        if len(path) > 1 and path.endswith("/"):
            path = environ["PATH_INFO"] = path.rstrip("/") or "/"

        def respond(status: str, headers: list[tuple[str, str]], *args: Any) -> Any:
            return start_response(status, headers + CORS_HEADERS, *args)

        if method == "OPTIONS":
            respond("204 No Content", list(PREFLIGHT_HEADERS))
            return []
        try:
            body = inputs.read_body(environ)
        except Problem as problem:
            return _send(respond, problem)
        environ[inputs.BODY] = body
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        environ.pop("HTTP_TRANSFER_ENCODING", None)
        if path.startswith(CONTROLS):  # the emulator's own controls, not Basiq's API
            return self.app(environ, respond)
        latency, fault = self.faults.pick(method, path)
        if latency:
            time.sleep(latency)  # a slow network is real time, whatever the emulator's clock says
        if fault is not None:
            return _send(respond, problems.fault(fault.status, fault.retry_after))
        return self.app(environ, respond)


def _send(respond: StartResponse, problem: Problem) -> Iterable[bytes]:
    body = json.dumps(problem.body()).encode()
    headers = [("Content-Type", JSON), ("Content-Length", str(len(body)))]
    headers += list(problem.headers.items())
    respond(f"{problem.status} {HTTPStatus(problem.status).phrase}", headers)
    return [body]

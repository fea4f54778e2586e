"""The HTTP serving both servers share: a real server on port 0, JSON errors, one log line."""

from __future__ import annotations

import logging
from typing import Any

import bottle
import pytest
import requests

from blink_desktop.httpd import HttpProblem, JsonErrors, Serving, access_log, json_response

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
        with caplog.at_level(logging.INFO, logger="tests.httpd"):
            crash = requests.get(f"{serving.url}/crash?token=abc", timeout=10)
        assert (crash.status_code, crash.json()["message"]) == (500, "fallback 500")
        assert "secret detail" not in crash.text
    lines = [r.getMessage() for r in caplog.records]
    assert any("internal error on GET /crash" in line for line in lines)
    assert any(line.startswith("GET /crash?token=[redacted] 500 ") for line in lines)


def test_a_stopped_server_frees_its_port() -> None:
    serving = Serving(app()).start()
    url = serving.url
    assert requests.get(f"{url}/ok", timeout=10).status_code == 201
    serving.stop()
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{url}/ok", timeout=2)

"""What makes the emulator behave like a public HTTP API (routes.py, middleware.py), faults,
the request log, and the foreground command."""

from __future__ import annotations

import json
import logging
import re
import signal
import socket
import stat
import subprocess
import sys
import time
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from blink_desktop.emulator import Emulator, Fault
from tests.conftest import Api, error_of, foreground

ALLOWED = {"authorization", "content-type", "accept", "basiq-version"}


def preflight(api: Api, requested: str) -> requests.Response:
    return api.http.options(
        f"{api.url}/users/u/connections",
        headers={
            "Origin": "http://127.0.0.1:9",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": requested,
        },
        timeout=10,
    )


def allowed_headers(response: requests.Response) -> set[str]:
    return {h.strip().lower() for h in response.headers["Access-Control-Allow-Headers"].split(",")}


def test_cors_preflight_answers_what_a_browser_page_sends(api: Api) -> None:
    response = preflight(api, "authorization,content-type")
    assert response.status_code == 204
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert "POST" in response.headers["Access-Control-Allow-Methods"]
    assert {"authorization", "content-type"} <= allowed_headers(response)


def test_cors_preflight_answers_from_its_allow_list_not_the_request(api: Api) -> None:
    # Echoing Access-Control-Request-Headers allowed any header a page asked for (issue 11, 24).
    for requested in ("x-evil", "authorization, x-evil, cookie", "*", "", "a" * 2000):
        response = preflight(api, requested)
        assert response.status_code == 204
        assert allowed_headers(response) == ALLOWED, requested


@pytest.mark.parametrize("requested", [b"x-evil\r", b"x\x00y", b"\xe9", b"authorization\x7f"])
def test_a_preflight_never_sends_back_the_bytes_it_was_given(api: Api, requested: bytes) -> None:
    # These went back into the answer verbatim, a bare CR and a NUL included.
    host, port = api.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as raw:
        raw.sendall(
            b"OPTIONS /users HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
            b"Access-Control-Request-Headers: " + requested + b"\r\n\r\n"
        )
        answer = b""
        while chunk := raw.recv(65536):
            answer += chunk
    head = answer.split(b"\r\n\r\n", 1)[0]
    assert requested not in head
    if b" 400 " in head.split(b"\r\n", 1)[0]:
        return  # the HTTP server refused the request itself, as it may: nothing was echoed
    assert head.startswith(b"HTTP/1.") and b" 204 " in head.split(b"\r\n", 1)[0]
    fields = dict(line.split(b":", 1) for line in head.split(b"\r\n")[1:])
    names = {name.strip().lower() for name in fields[b"Access-Control-Allow-Headers"].split(b",")}
    assert names == {name.encode() for name in ALLOWED}


def test_every_answer_carries_cors_and_exact_json_content_type(api: Api) -> None:
    for response in (
        api.call("GET", "/public/institutions"),
        api.call("GET", "/users/x"),
        api.call("GET", "/no/such/route"),
    ):
        assert response.headers["Access-Control-Allow-Origin"] == "*"
        assert response.headers["Content-Type"] == "application/json"


def test_trailing_slash_works_as_without(api: Api) -> None:
    user = api.user()
    assert api.call("GET", f"/users/{user}/", api.token()).status_code == 200
    assert api.call("GET", "/public/institutions/").json()["totalCount"] > 0


def test_unknown_route_404_and_wrong_method_405_use_the_envelope(api: Api) -> None:
    missing = api.call("GET", "/nothing/here")
    assert missing.status_code == 404
    assert error_of(missing)["code"] == "resource-not-found"
    wrong = api.call("PUT", "/token")
    assert wrong.status_code == 405
    assert error_of(wrong)["code"] == "method-not-allowed"


def test_a_crash_answers_the_500_envelope_and_logs_one_line(
    emulator: Emulator,
    api: Api,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    def broken() -> None:
        raise RuntimeError("the rules broke")

    monkeypatch.setattr(emulator.rules, "settle", broken)
    with caplog.at_level(logging.INFO, logger="blink_desktop.emulator"):
        response = api.call("GET", "/public/institutions")
    assert response.status_code == 500
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    error = error_of(response)
    assert error["code"] == "internal-server-error"
    assert "the rules broke" not in response.text
    # One ERROR line, no traceback: not in the log at INFO, and nothing on stderr.
    [crash] = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert crash.levelno == logging.ERROR
    assert "the rules broke" in crash.getMessage()
    assert "/public/institutions" in crash.getMessage()
    assert crash.exc_info is None
    assert "Traceback" not in caplog.text
    assert "Traceback" not in capfd.readouterr().err


def test_a_crash_logs_its_traceback_at_debug(
    emulator: Emulator, api: Api, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken() -> None:
        raise RuntimeError("the rules broke")

    monkeypatch.setattr(emulator.rules, "settle", broken)
    with caplog.at_level(logging.DEBUG, logger="blink_desktop.emulator"):
        assert api.call("GET", "/public/institutions").status_code == 500
    assert "Traceback" in caplog.text
    assert 'raise RuntimeError("the rules broke")' in caplog.text


def test_one_log_line_per_request_with_secrets_scrubbed(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="blink_desktop.emulator"):
        api.call("GET", "/public/institutions/")
        api.http.get(f"{api.url}/logos/AU00000.svg?access_token=SECRET-TOKEN", timeout=10)
        api.call("PUT", "/token")
    lines = [r.getMessage() for r in caplog.records if r.name == "blink_desktop.emulator"]
    assert len(lines) == 3
    for line, start in zip(
        lines,
        (
            "GET /public/institutions 200 ",
            "GET /logos/AU00000.svg?access_token=[redacted] 200 ",
            "PUT /token 405 ",
        ),
        strict=True,
    ):
        assert line.startswith(start), line
        assert re.fullmatch(r"\d+\.\d ms", line.removeprefix(start)), line
    assert "SECRET-TOKEN" not in caplog.text


def test_post_without_json_content_type_is_415(api: Api) -> None:
    response = api.call(
        "POST",
        "/users",
        api.token(),
        data="email=a@b.co",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 415
    assert error_of(response)["code"] == "unsupported-content-type"


def test_malformed_json_is_400(api: Api) -> None:
    for body in (b"{not json", b"\xff\xfe", b""):
        response = api.call(
            "POST", "/users", api.token(), data=body, headers={"Content-Type": "application/json"}
        )
        assert response.status_code == 400, body
        assert error_of(response)["code"] == "parameter-not-valid"


def test_body_over_one_megabyte_is_413(api: Api) -> None:
    big = json.dumps({"email": "a@b.co", "pad": "x" * (1024 * 1024)})
    response = api.call(
        "POST", "/users", api.token(), data=big, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert error_of(response)["code"] == "invalid-content"


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    body=st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=20),
        lambda inner: (
            st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
        ),
        max_leaves=12,
    )
)
def test_hostile_bodies_never_crash_the_emulator(api: Api, body: Any) -> None:
    user = api.user()
    for path in ("/users", f"/users/{user}", f"/users/{user}/connections", "/jobs/x/mfa"):
        token = api.token("CLIENT_ACCESS", "2.1") if path.endswith("mfa") else api.token()
        response = api.call("POST", path, token, json=body)
        assert response.status_code < 500, (path, response.text)
        if response.status_code >= 400:
            error_of(response)


def test_latency_fault_delays_matching_routes_only(emulator: Emulator, api: Api) -> None:
    emulator.faults.add(Fault(route="GET /public/*", latency=0.3))
    started = time.monotonic()
    api.call("GET", "/public/institutions")
    assert time.monotonic() - started >= 0.3
    started = time.monotonic()
    api.token()
    assert time.monotonic() - started < 0.3


def test_error_faults_503_500_and_429_with_retry_after(emulator: Emulator, api: Api) -> None:
    emulator.faults.add(Fault(route="POST /token", status=503, times=1, retry_after=7))
    emulator.faults.add(Fault(route="/jobs/*", status=500))
    emulator.faults.add(Fault(route="GET /users/*", status=429, retry_after=3))
    unavailable = api.http.post(f"{api.url}/token", timeout=10)
    assert unavailable.status_code == 503
    assert unavailable.headers["Retry-After"] == "7"
    assert error_of(unavailable)["code"] == "service-unavailable"
    token = api.token()  # `times=1`: the second /token works
    assert error_of(api.call("GET", "/jobs/x", token))["code"] == "internal-server-error"
    limited = api.call("GET", "/users/x", token)
    assert limited.status_code == 429
    assert limited.headers["Retry-After"] == "3"
    emulator.faults.clear()
    assert api.call("GET", "/users/x", token).status_code == 404


def test_fault_rate_hits_about_that_share_repeatably() -> None:
    def run() -> list[int]:
        with Emulator(faults=[Fault(route="GET /public/*", status=500, rate=0.3)]) as emulator:
            return [
                Api(emulator).call("GET", "/public/institutions").status_code for _ in range(60)
            ]

    first = run()
    assert 8 <= first.count(500) <= 30
    assert run() == first


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("'POST /token' status=503 rate=0.5", Fault(route="POST /token", status=503, rate=0.5)),
        ("/jobs/* latency=2", Fault(route="/jobs/*", latency=2)),
        ("status=429 retry_after=9 times=2", Fault(status=429, retry_after=9, times=2)),
    ],
)
def test_fault_rules_from_the_command_line(text: str, expected: Fault) -> None:
    assert Fault.parse(text) == expected


@pytest.mark.parametrize("text", ["status=404", "rate=2", "latency=-1", "bogus=1", "times=0"])
def test_bad_fault_rules_are_explained(text: str) -> None:
    with pytest.raises(ValueError, match="not valid"):
        Fault.parse(text)


def test_port_in_use_is_an_oserror_not_a_hang() -> None:
    with Emulator() as running:
        port = int(running.url.rsplit(":", 1)[1])
        with pytest.raises(OSError):
            Emulator(port=port)


def cli_emulator(*args: str) -> AbstractContextManager[tuple[subprocess.Popen[str], str]]:
    """`blink-desktop emulator` in its own process."""
    return foreground(sys.executable, "-m", "blink_desktop", "emulator", *args)


def test_foreground_command_prints_url_then_one_line_per_request_and_stops_on_ctrl_c() -> None:
    with cli_emulator("--port", "0", "--job-speed", "10") as (process, url):
        assert url.startswith("http://127.0.0.1:")
        assert requests.get(f"{url}/public/institutions", timeout=10).status_code == 200
        assert requests.get(f"{url}/logos/AU00000.svg?access_token=SECRET-TOKEN", timeout=10).ok
        assert process.stdout is not None
        assert "GET /public/institutions 200" in process.stdout.readline()
        line = process.stdout.readline()
        assert "GET /logos/AU00000.svg?access_token=[redacted] 200" in line
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=10)
        assert process.returncode == 0
        assert "API key" in err
        assert "Traceback" not in err


def test_foreground_command_with_api_key_and_state(tmp_path: Any) -> None:
    with cli_emulator(
        "--api-key", "k3y", "--state", str(tmp_path / "s.db"), "--token-ttl", "5"
    ) as (
        _,
        url,
    ):
        headers = {"Authorization": "Basic k3y", "basiq-version": "2.0"}
        assert requests.post(f"{url}/token", headers=headers, timeout=10).json()["expires_in"] == 5
    assert (tmp_path / "s.db").exists()


def test_foreground_command_reports_a_taken_port_cleanly() -> None:
    with Emulator() as running:
        port = running.url.rsplit(":", 1)[1]
        result = subprocess.run(
            [sys.executable, "-m", "blink_desktop", "emulator", "--port", port],
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert result.returncode == 1
    assert "cannot listen" in result.stderr
    assert "Traceback" not in result.stderr


def test_foreground_command_with_faults_from_the_command_line() -> None:
    with cli_emulator("--fault", "'GET /public/*' status=503") as (_, url):
        assert requests.get(f"{url}/public/institutions", timeout=10).status_code == 503


def test_the_state_file_holding_the_signing_secret_is_owner_only(tmp_path: Path) -> None:
    with Emulator(state_path=tmp_path / "state.sqlite") as emulator:
        Api(emulator).user()  # a write, so the write-ahead log exists
        for suffix in ("", "-wal", "-shm"):
            path = tmp_path / f"state.sqlite{suffix}"
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, path

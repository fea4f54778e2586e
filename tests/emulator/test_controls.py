"""The lifecycle controls over HTTP (under /_emulator/, loopback only) and on the command line."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest

from blink_desktop import cli
from blink_desktop.emulator import Emulator, Fault
from blink_desktop.emulator.controls import refusal
from blink_desktop.emulator.remote import Remote
from blink_desktop.errors import ApiResponseError, ApiUnavailable, SettingsError
from tests.conftest import Api, error_of, step_status
from tests.emulator.test_lifecycle import refresh, status

DAY = 86400


def test_let_time_pass_over_http(emulator: Emulator, api: Api) -> None:
    shown = api.call("GET", "/_emulator/time").json()
    assert shown["passedSeconds"] == 0
    before = emulator.clock()
    answer = api.call("POST", "/_emulator/time", json={"days": 1.5, "seconds": 60})
    assert answer.status_code == 200, answer.text
    assert answer.json()["passedSeconds"] == 1.5 * DAY + 60
    assert emulator.clock() - before >= 1.5 * DAY + 60
    assert answer.json()["now"] == api.call("GET", "/_emulator/time").json()["now"]


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({}, 400),
        ({"days": -1}, 400),
        ({"days": "3"}, 400),
        ({"days": True}, 400),
        ({"days": 3651}, 400),
        ([3], 400),
    ],
)
def test_time_needs_a_sensible_amount(api: Api, body: Any, status: int) -> None:
    response = api.call("POST", "/_emulator/time", json=body)
    assert response.status_code == status
    assert error_of(response)["code"] == "parameter-not-valid"
    assert api.call("GET", "/_emulator/time").json()["passedSeconds"] == 0


def test_time_takes_json_only(api: Api) -> None:
    response = api.call("POST", "/_emulator/time", data="days=3")
    assert response.status_code == 415


def test_break_a_connection_over_http(emulator: Emulator, api: Api) -> None:
    user = api.user()
    connection = api.connected(user)
    shown = api.call("GET", f"/_emulator/connections/{connection}").json()
    assert shown == {
        "id": connection,
        "userId": user,
        "institution": "AU00000",
        "status": "active",
        "broken": False,
    }
    broke = api.call("POST", f"/_emulator/connections/{connection}/break")
    assert broke.status_code == 200
    assert broke.json() == {**shown, "broken": True}
    assert step_status(refresh(api, user, connection), "verify-credentials") == "failed"
    assert api.call("GET", f"/_emulator/connections/{connection}").json()["status"] == "invalid"
    missing = api.call("POST", "/_emulator/connections/nope/break")
    assert missing.status_code == 404
    assert error_of(missing)["code"] == "resource-not-found"


def test_expire_every_token_over_http(api: Api) -> None:
    token = api.token()
    assert api.call("GET", "/institutions", token).status_code == 200
    assert api.call("POST", "/_emulator/tokens/expire").status_code == 204
    expired = api.call("GET", "/institutions", token)
    assert (expired.status_code, error_of(expired)["detail"]) == (403, "Token has expired")


def test_injected_faults_leave_the_controls_alone(emulator: Emulator, api: Api) -> None:
    emulator.faults.add(Fault(status=503))
    assert api.call("GET", "/institutions").status_code == 503
    assert api.call("GET", "/_emulator/time").status_code == 200


@pytest.mark.parametrize(
    ("headers", "refused"),
    [
        ({"Host": "evil.example"}, True),  # a name rebound to 127.0.0.1 keeps its own Host
        ({"Host": "192.0.2.7:80"}, True),
        ({"Origin": "https://evil.example"}, True),  # a web page elsewhere
        ({"Origin": "null"}, True),
        ({"Host": "localhost:1"}, False),
        ({"Origin": "http://127.0.0.1:8000"}, False),  # a page on this machine
        ({"Origin": "http://localhost:3000"}, False),
    ],
)
def test_requests_that_do_not_come_from_this_machine_are_refused(
    api: Api, headers: dict[str, str], refused: bool
) -> None:
    for method, path in (
        ("GET", "/_emulator/time"),
        ("POST", "/_emulator/tokens/expire"),
        ("POST", "/_emulator/connections/nope/break"),
    ):
        response = api.call(method, path, headers=dict(headers))
        if refused:
            assert response.status_code == 403, (method, path, headers)
            assert "loopback" in error_of(response)["detail"] or "machine" in response.text
        else:
            assert response.status_code != 403, (method, path, headers)


@pytest.mark.parametrize(
    ("peer", "refused"),
    [
        ("127.0.0.1", False),
        ("127.8.9.10", False),
        ("::1", False),
        ("::ffff:127.0.0.1", False),
        ("192.0.2.7", True),
        ("10.0.0.1", True),
        ("::ffff:192.0.2.7", True),
        ("2001:db8::1", True),
        ("", True),
    ],
)
def test_only_a_loopback_peer_may_use_the_controls(peer: str, refused: bool) -> None:
    environ = {"REMOTE_ADDR": peer, "HTTP_HOST": "127.0.0.1:1", "HTTP_X_FORWARDED_FOR": "127.0.0.1"}
    assert (refusal(environ) is not None) == refused


def test_a_peer_elsewhere_is_refused_by_the_running_emulator(emulator: Emulator) -> None:
    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/_emulator/tokens/expire",
        "REMOTE_ADDR": "192.0.2.7",
        "HTTP_HOST": "127.0.0.1",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "wsgi.input": io.BytesIO(b""),
        "wsgi.url_scheme": "http",
        "CONTENT_LENGTH": "0",
    }
    answers: list[str] = []
    body = b"".join(emulator._handle(environ, lambda status, headers, *_: answers.append(status)))
    assert answers == ["403 Forbidden"]
    assert "loopback" in json.loads(body)["data"][0]["detail"]
    assert emulator.auth.generation() == 0


def test_the_remote_client_calls_a_running_emulator(emulator: Emulator, api: Api) -> None:
    remote = Remote(emulator.url + "/")
    user = api.user()
    connection = api.connected(user)
    assert remote.break_connection(connection)["broken"] is True
    assert remote.connection(connection)["broken"] is True
    assert remote.pass_time(2)["passedSeconds"] == 2 * DAY
    assert remote.time()["passedSeconds"] == 2 * DAY
    token = api.token()
    remote.expire_tokens()
    assert api.call("GET", "/institutions", token).status_code == 403
    with pytest.raises(ApiResponseError, match="404: Requested connection does not exist"):
        remote.break_connection("nope")


def test_the_remote_client_says_what_is_wrong() -> None:
    with pytest.raises(SettingsError, match="not an emulator's address"):
        Remote("127.0.0.1:8000")
    with pytest.raises(ApiUnavailable, match="Cannot reach an emulator at http://127.0.0.1:9"):
        Remote("http://127.0.0.1:9").time()


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = cli.main(["emulator-control", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_the_command_line_controls_a_running_emulator(
    emulator: Emulator, api: Api, capsys: pytest.CaptureFixture[str]
) -> None:
    user = api.user()
    connection = api.connected(user)
    code, out, _ = run(capsys, emulator.url, "break", connection)
    assert code == 0
    assert out == (
        f"Broke connection {connection} at AU00000 (now active): its next refresh fails "
        "invalid-credentials.\n"
    )
    assert step_status(refresh(api, user, connection), "verify-credentials") == "failed"
    assert status(api, user, connection) == "invalid"

    code, out, _ = run(capsys, emulator.url, "pass-time", "3")
    now = api.call("GET", "/_emulator/time").json()["now"]
    assert (code, out) == (0, f"3 day(s) passed: the emulator's time is now {now}.\n")
    code, out, _ = run(capsys, emulator.url, "time", "--json")
    assert json.loads(out) == api.call("GET", "/_emulator/time").json()
    assert json.loads(out)["passedSeconds"] == 3 * DAY

    token = api.token()
    code, out, _ = run(capsys, emulator.url, "expire-tokens")
    assert (code, out) == (0, "Every token issued so far has expired.\n")
    assert api.call("GET", "/institutions", token).status_code == 403


def test_the_command_line_explains_what_went_wrong(
    emulator: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, emulator.url, "break", "nope")
    assert (code, out) == (1, "")
    assert err.startswith(f"blink-desktop: The emulator at {emulator.url} answered 404")
    code, _, err = run(capsys, "http://127.0.0.1:9", "expire-tokens")
    assert code == 1 and "Cannot reach an emulator" in err
    for days in ("0", "-2", "soon", "nan"):
        with pytest.raises(SystemExit) as stopped:
            run(capsys, emulator.url, "pass-time", days)
        assert stopped.value.code == 2
        assert "days" in capsys.readouterr().err

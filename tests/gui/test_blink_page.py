"""The emulated Blink page inside a host page on another origin, driven like a person.

Each test asserts the exact, ordered messages the host received. Failure payloads are
compared with what the API itself reports for the job, never with hard-coded wording.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from typing import Any

import pytest

from blink_desktop.emulator import Emulator, Fault
from harness.cdp import CDP
from tests.conftest import Api, error_of, step
from tests.gui.conftest import BlinkRun, Customer, Event, HostServer, Window, blink_url

pytestmark = pytest.mark.gui

HOOLI = "AU00000"
PIED_PIPER = "AU00002"  # always asks an MFA question
GENERIC_FAILURE = "The credentials you provided were incorrect."


def names(events: list[Event]) -> list[str]:
    return [event.event for event in events]


def assert_from_blink(events: list[Event], emulator: Emulator) -> None:
    assert {event.origin for event in events} <= {emulator.url}


def assert_handshake(event: Event) -> None:
    assert (event.event, event.payload) == ("handshake", {"success": True})


def job_id_of(event: Event) -> str:
    assert event.event == "job"
    assert event.payload["success"] is True
    assert set(event.payload) == {"success", "data"}
    assert set(event.payload["data"]) == {"id"}
    job_id: str = event.payload["data"]["id"]
    assert job_id
    return job_id


def assert_bare(event: Event, name: str) -> None:
    """cancellation and completion carry no payload: the key is absent from the JSON."""
    assert event.event == name
    assert not event.has_payload
    assert event.raw == json.dumps({"event": name}, separators=(",", ":"))


def test_successful_connection(
    blink: Callable[..., BlinkRun], customer: Customer, api: Api, emulator: Emulator
) -> None:
    run = blink(user_id=customer.user_id, access_token=customer.token)
    frame = run.wait_title("Select your bank")
    shown = frame.evaluate(
        "[...document.querySelectorAll('[data-institution-id]')].map(b => b.dataset.institutionId)"
    )
    assert HOOLI in shown
    assert PIED_PIPER not in shown, "MFA banks are hidden below basiq-version 2.1"

    run.choose(HOOLI)
    assert frame.text("#bank-name") == "Hooli Bank"
    run.log_in("gavinBelson", "hooli2016")
    title, message = run.result()
    assert (title, message) == ("Success", "Your data has been successfully submitted.")
    frame.click("#done")

    events = run.settle()
    assert names(events) == ["handshake", "job", "connection", "completion"]
    assert_from_blink(events, emulator)
    assert_handshake(events[0])
    job_id = job_id_of(events[1])
    assert events[2].payload == {"success": True, "data": {"id": events[2].payload["data"]["id"]}}
    connection_id = events[2].payload["data"]["id"]
    assert_bare(events[3], "completion")

    verify = step(api.job(job_id), "verify-credentials")
    assert verify["status"] == "success"
    assert verify["result"]["url"].rsplit("/", 1)[-1] == connection_id
    response = api.call(
        "GET", f"/users/{customer.user_id}/connections/{connection_id}", api.token()
    )
    assert response.status_code == 200
    connection = response.json()
    assert connection["id"] == connection_id
    assert connection["institution"]["id"] == HOOLI


@pytest.mark.parametrize(
    ("login_id", "password"),
    [
        pytest.param("gavinBelson", "not-his-password", id="wrong-password"),
        pytest.param("bighead", "password", id="locked-account"),
        pytest.param("jianYang", "nothotdog", id="service-unavailable"),
        pytest.param("erlich", "aviato", id="requires-user-action"),
    ],
)
def test_failed_connection(
    blink: Callable[..., BlinkRun],
    customer: Customer,
    api: Api,
    emulator: Emulator,
    login_id: str,
    password: str,
) -> None:
    run = blink(user_id=customer.user_id, access_token=customer.token)
    run.choose(HOOLI)
    run.log_in(login_id, password)
    title, message = run.result()

    events = run.settle()
    assert names(events) == ["handshake", "job", "connection"]
    assert_from_blink(events, emulator)
    assert_handshake(events[0])
    verify = step(api.job(job_id_of(events[1])), "verify-credentials")
    assert verify["status"] == "failed"
    assert events[2].payload == {"success": False, "data": verify["result"]}
    assert title == "Unsuccessful"
    assert message == (verify["result"].get("detail") or GENERIC_FAILURE)

    # Try again goes back to the form, keeps the login, sends nothing.
    frame = run.frame
    frame.click("#retry")
    run.wait_title("Login")
    assert frame.evaluate("document.getElementById('loginId').value") == login_id
    assert frame.evaluate("document.getElementById('password').value") == ""
    assert names(run.settle()) == ["handshake", "job", "connection"]


def test_duplicate_connection(
    blink: Callable[..., BlinkRun], customer: Customer, api: Api, emulator: Emulator
) -> None:
    query = {"user_id": customer.user_id, "access_token": customer.token}
    run = blink(**query)
    run.choose(HOOLI)
    run.log_in("jared", "django")
    assert run.result()[0] == "Success"
    run.frame.click("#done")
    assert names(run.settle()) == ["handshake", "job", "connection", "completion"]

    # The same person opens Blink again and connects the same login once more.
    run.load(blink_url(emulator.url, iframe="true", **query))
    run.choose(HOOLI)
    run.log_in("jared", "django")
    title, message = run.result()

    events = run.settle()
    assert names(events) == ["handshake", "job"]
    assert_from_blink(events, emulator)
    assert_handshake(events[0])
    assert events[1].payload["success"] is False
    error = events[1].payload["data"]
    assert error["code"] == "resource-already-exists"
    # The payload is the API's own error object (data[0] of its envelope).
    replay = api.connect(customer.user_id, "jared", "django", HOOLI, token=api.token())
    assert replay.status_code == 409
    assert error == replay.json()["data"][0]
    assert (title, message) == (
        "Unsuccessful",
        "You have already connected to Hooli with the supplied credentials",
    )


def test_cancel_from_the_list(
    blink: Callable[..., BlinkRun], customer: Customer, emulator: Emulator
) -> None:
    run = blink(user_id=customer.user_id, access_token=customer.token)
    frame = run.wait_title("Select your bank")
    frame.click("#close")
    events = run.settle()
    assert names(events) == ["handshake", "cancellation"]
    assert_from_blink(events, emulator)
    assert_bare(events[1], "cancellation")


def test_back_escape_and_close_on_the_login_form(
    blink: Callable[..., BlinkRun], customer: Customer, emulator: Emulator
) -> None:
    run = blink(user_id=customer.user_id, access_token=customer.token)
    frame = run.choose(HOOLI)
    # Connect with empty fields: errors next to each field, no request, no event.
    frame.click("#connect")
    frame.wait_visible("#loginId-error")
    assert frame.visible("#password-error")
    assert (
        frame.evaluate("document.getElementById('loginId').getAttribute('aria-invalid')") == "true"
    )
    run.page.press("Escape")  # nothing happens: no event, same screen
    assert frame.text("#title") == "Login"
    frame.click("#back")
    run.wait_title("Select your bank")
    # Search matches the short name and the full name.
    frame.type("#search", "hooli")
    frame.wait_for("document.querySelectorAll('#institutions [data-institution-id]').length === 2")
    labels = frame.evaluate(
        "[...document.querySelectorAll('#institutions .tile-name')].map(n => n.textContent)"
    )
    assert labels == ["Hooli Bank (Test)", "HooliGov Bank (Government Services)"]
    frame.type("#search", "zzzz-no-such-bank")
    frame.wait_visible("#no-results")
    frame.type("#search", "")
    run.choose(HOOLI)
    frame.click("#close")
    events = run.settle()
    assert names(events) == ["handshake", "cancellation"]
    assert_from_blink(events, emulator)


def test_login_form_follows_the_institution_captions(
    blink: Callable[..., BlinkRun], customer: Customer, api: Api
) -> None:
    institutions = {i["id"]: i for i in api.call("GET", "/public/institutions").json()["data"]}
    run = blink(user_id=customer.user_id, access_token=customer.token)
    optional = {
        "securityCode": "securityCodeCaption",
        "secondaryLoginId": "secondaryLoginIdCaption",
    }
    for institution_id in ["AU00001", "AU00004", HOOLI]:
        institution = institutions[institution_id]
        frame = run.choose(institution_id)
        assert frame.text("#bank-name") == institution["name"]
        captions = {"loginId": "loginIdCaption", "password": "passwordCaption", **optional}
        for field, caption in captions.items():
            if field in optional and not institution.get(caption):
                assert not frame.visible(f"#{field}"), (institution_id, field)
                continue
            assert frame.text(f"label[for='{field}']") == institution[caption]
            placeholder = frame.evaluate(f"document.getElementById('{field}').placeholder")
            assert placeholder == institution[caption]
        forgot = frame.evaluate(
            "(a => a.hidden ? null : [a.href, a.target, a.rel])(document.getElementById('forgot'))"
        )
        if institution.get("forgottenPasswordUrl"):
            assert forgot == [institution["forgottenPasswordUrl"], "_blank", "noopener noreferrer"]
        else:
            assert forgot is None
        frame.click("#back")
    assert names(run.settle()) == ["handshake"]


def test_update_mode(
    blink: Callable[..., BlinkRun], customer: Customer, api: Api, emulator: Emulator
) -> None:
    connection_id = api.connected(customer.user_id, login="richard", password="tabsnotspaces")
    run = blink(user_id=customer.user_id, access_token=customer.token, connection_id=connection_id)
    frame = run.wait_title("Login")
    assert frame.text("#bank-name") == "Hooli Bank"
    assert not frame.visible("#back"), "update mode has no list to go back to"
    run.log_in("richard", "tabsnotspaces", submit="enter")
    assert run.result()[0] == "Success"
    frame.click("#done")

    events = run.settle()
    assert names(events) == ["handshake", "job", "connection", "completion"]
    assert_from_blink(events, emulator)
    job_id = job_id_of(events[1])
    assert events[2].payload == {"success": True, "data": {"id": connection_id}}
    assert step(api.job(job_id), "verify-credentials")["status"] == "success"
    assert_bare(events[3], "completion")


def test_demo_mode_by_keyboard_at_320_px(
    blink: Callable[..., BlinkRun], emulator: Emulator
) -> None:
    run = blink(demo="true", width=320, height=600)
    frame = run.wait_title("Select your bank")
    no_overflow = "document.documentElement.scrollWidth <= window.innerWidth"
    assert frame.evaluate(no_overflow)
    page = run.page

    frame.type("#search", "hooli")
    frame.wait_for("document.querySelector('#institutions [data-institution-id]') !== null")
    page.press("Tab")
    assert frame.evaluate("document.activeElement.dataset.institutionId") == HOOLI
    page.press("Enter")
    run.wait_title("Login")
    frame.wait_for("document.activeElement.id === 'loginId'", 5)
    assert frame.evaluate(no_overflow)
    page.send("Input.insertText", {"text": "username_valid"})
    page.press("Tab")
    page.send("Input.insertText", {"text": "password_valid"})
    page.press("Enter")
    frame.wait_visible("#screen-connecting")
    assert run.result()[0] == "Success"
    frame.wait_for("document.activeElement.id === 'done'", 5)
    page.press("Enter")

    events = run.settle()
    assert [(e.event, e.payload) for e in events] == [
        ("handshake", {"success": True}),
        ("job", {"success": True, "data": {"id": "fake-job-id"}}),
        ("connection", {"success": True, "data": {"id": "fake-connection-id"}}),
        ("completion", None),
    ]
    assert_from_blink(events, emulator)

    # Anything but the demo credentials fails, as success:false (Blink's app.js said true).
    run.load(blink_url(emulator.url, iframe="true", demo="true"))
    run.choose(HOOLI)
    run.log_in("someone", "secret")
    title, message = run.result()
    assert title == "Unsuccessful"
    events = run.settle()
    detail = (
        "Cannot login to target institution using supplied credentials. "
        "Please check credentials and try again."
    )
    assert [(e.event, e.payload) for e in events] == [
        ("handshake", {"success": True}),
        ("job", {"success": True, "data": {"id": "fake-job-id"}}),
        (
            "connection",
            {
                "success": False,
                "data": {
                    "code": "invalid-credentials",
                    "title": "Cannot login to target institution, check credentials.",
                    "detail": detail,
                },
            },
        ),
    ]
    assert message == detail


def test_mfa_challenge(blink: Callable[..., BlinkRun], api: Api, emulator: Emulator) -> None:
    user_id = api.user()
    token = api.token("CLIENT_ACCESS", "2.1")
    run = blink(user_id=user_id, access_token=token)
    run.choose(PIED_PIPER)
    run.log_in("gavinBelson", "hooli2016")
    frame = run.wait_title("Verification")
    events = run.wait_events(2)
    job_id = job_id_of(events[1])
    challenge = step(api.job(job_id), "mfa-challenge")["result"]
    assert frame.text("#mfa-description") == challenge["description"]
    assert frame.text("label[for='mfa-answer-0']") == challenge["input"][0]
    assert len(challenge["input"]) == 1
    frame.click("#mfa-submit")
    frame.wait_visible("#mfa-answer-0-error")
    frame.type("#mfa-answer-0", "Hooli")
    frame.click("#mfa-submit")
    assert run.result()[0] == "Success"
    frame.click("#done")

    events = run.settle()
    assert names(events) == ["handshake", "job", "connection", "completion"]
    assert_from_blink(events, emulator)
    assert events[2].payload["success"] is True
    assert step(api.job(job_id), "mfa-challenge")["status"] == "success"
    verify = step(api.job(job_id), "verify-credentials")
    assert verify["result"]["url"].rsplit("/", 1)[-1] == events[2].payload["data"]["id"]


def test_parent_origin_matching_the_host(
    blink: Callable[..., BlinkRun], customer: Customer, emulator: Emulator, host: HostServer
) -> None:
    run = blink(user_id=customer.user_id, access_token=customer.token, parent_origin=host.origin)
    frame = run.wait_title("Select your bank")
    frame.click("#close")
    events = run.settle()
    assert names(events) == ["handshake", "cancellation"]
    assert_from_blink(events, emulator)


def test_parent_origin_of_someone_else(blink: Callable[..., BlinkRun], customer: Customer) -> None:
    run = blink(
        user_id=customer.user_id,
        access_token=customer.token,
        parent_origin="https://somewhere-else.example",
    )
    frame = run.wait_title("Select your bank")
    frame.click("#close")  # flushes the handshake, then posts the cancellation
    assert run.settle() == []


def test_start_up_errors(
    blink: Callable[..., BlinkRun], customer: Customer, api: Api, emulator: Emulator
) -> None:
    """Each problem gets an error screen saying what is wrong; X still closes.

    Problems found before any request (token, user id, parameters) send no handshake; an API
    error during start-up comes after the handshake timer started, as in Blink.
    """
    server_token = api.token("SERVER_ACCESS", "2.0")
    unknown_user = api.call("GET", "/users/no-such-user", customer.token).json()["data"][0][
        "detail"
    ]
    user, token = customer.user_id, customer.token
    cases: list[tuple[dict[str, str], str, list[str]]] = [
        ({"user_id": user, "access_token": server_token}, "Scope is not valid", []),
        ({"user_id": user, "access_token": "not-a-jwt"}, "Token is not valid", []),
        ({"user_id": user, "access_token": "a.%%%.c"}, "Token is not valid", []),
        ({"access_token": token}, "User ID is not valid", []),
        ({"user_id": "no-such-user", "access_token": token}, unknown_user, ["handshake"]),
        (
            {"demo": "true", "connection_id": "abc"},
            "Demo is not supported for update connection use-case.",
            [],
        ),
        (
            {"user_id": user, "access_token": token, "parent_origin": "javascript:alert(1)"},
            "Parent origin is not valid",
            [],
        ),
    ]
    run: BlinkRun | None = None
    for query, message, before in cases:
        if run is None:
            run = blink(**query)
            frame = run.frame
        else:
            frame = run.load(blink_url(emulator.url, iframe="true", **query))
        run.wait_title("Error")
        assert frame.text("#error-message") == message, query
        frame.click("#close")
        events = run.settle()
        assert names(events) == [*before, "cancellation"], query
        assert_from_blink(events, emulator)


def test_mfa_wrong_answer(blink: Callable[..., BlinkRun], api: Api, emulator: Emulator) -> None:
    run = blink(user_id=api.user(), access_token=api.token("CLIENT_ACCESS", "2.1"))
    run.choose(PIED_PIPER)
    run.log_in("Whistler", "ShowBox")
    frame = run.wait_title("Verification")
    job_id = job_id_of(run.wait_events(2)[1])
    prompts = step(api.job(job_id), "mfa-challenge")["result"]["input"]
    assert len(prompts) == 2
    for index, prompt in enumerate(prompts):
        assert frame.text(f"label[for='mfa-answer-{index}']") == prompt
    frame.type("#mfa-answer-0", "Basiq")
    frame.type("#mfa-answer-1", "not-the-answer")
    run.page.press("Enter")
    title, message = run.result()

    events = run.settle()
    assert names(events) == ["handshake", "job", "connection"]
    assert_from_blink(events, emulator)
    verify = step(api.job(job_id), "verify-credentials")
    assert verify["status"] == "failed"
    assert events[2].payload == {"success": False, "data": verify["result"]}
    assert (title, message) == ("Unsuccessful", verify["result"].get("detail") or GENERIC_FAILURE)


def test_works_when_local_storage_throws(
    open_window: Callable[..., Window], emulator: Emulator
) -> None:
    """Blink caches institutions in localStorage; a browser that refuses storage still works."""
    window = open_window(blink_url(emulator.url, iframe="true", demo="true"))
    page = window.cdp
    page.send(
        "Page.addScriptToEvaluateOnNewDocument",
        {
            "source": "Object.defineProperty(window, 'localStorage', {get() {"
            " throw new DOMException('denied', 'SecurityError'); }});"
        },
    )
    page.evaluate("document.documentElement.setAttribute('data-unloading', '')")
    page.evaluate("location.reload()")
    page.wait_for(
        "!document.documentElement.hasAttribute('data-unloading')"
        " && document.getElementById('title').textContent === 'Select your bank'",
        15,
    )
    assert page.evaluate(
        "(() => { try { localStorage; return false } catch (e) { return true } })()"
    )
    assert page.evaluate("document.querySelector('[data-institution-id=\"AU00000\"]') !== null")


@pytest.mark.parametrize("failures", [2, 3])
def test_failed_job_polls(
    blink: Callable[..., BlinkRun],
    customer: Customer,
    api: Api,
    emulator: Emulator,
    failures: int,
) -> None:
    """Two failed job polls in a row are retried; the third ends in a connection failure that
    carries the API's error (Blink stopped silently there)."""
    jobs = Fault(route="GET /jobs/*", status=503, times=failures)
    emulator.faults.add(jobs)
    run = blink(user_id=customer.user_id, access_token=customer.token)
    run.choose(HOOLI)
    run.log_in("gavinBelson", "hooli2016")
    title, message = run.result(timeout=20)

    events = run.settle()
    assert_from_blink(events, emulator)
    assert names(events) == ["handshake", "job", "connection"]
    job_id = job_id_of(events[1])
    if failures < 3:
        # The faults were used up by Blink's polls: the API answers again.
        verify = step(api.job(job_id), "verify-credentials")
        assert events[2].payload == {
            "success": True,
            "data": {"id": verify["result"]["url"].rsplit("/", 1)[-1]},
        }
        assert title == "Success"
        return
    emulator.faults.add(jobs.model_copy(update={"times": 1}))
    answer = api.call("GET", f"/jobs/{job_id}", api.token())
    assert answer.status_code == 503
    error = error_of(answer)
    assert events[2].payload == {"success": False, "data": error}
    assert (title, message) == ("Unsuccessful", error["detail"])
    assert api.job(job_id)["id"] == job_id  # the job itself was fine all along


def paused_request(page: CDP, timeout: float = 15.0) -> dict[str, Any]:
    """The next request the DevTools Fetch domain holds back (its Fetch.requestPaused params)."""
    deadline = time.monotonic() + timeout
    while True:
        for event in page.events:
            if event["method"] == "Fetch.requestPaused":
                page.events.remove(event)
                params: dict[str, Any] = event["params"]
                return params
        if time.monotonic() >= deadline:
            raise TimeoutError("no request was paused")
        page.send("Runtime.evaluate", {"expression": "0"})  # reads the events that came in
        time.sleep(0.05)


def fulfil(status: int, content_type: str, body: str) -> tuple[str, dict[str, Any]]:
    return "Fetch.fulfillRequest", {
        "responseCode": status,
        "responseHeaders": [{"name": "Content-Type", "value": content_type}],
        "body": base64.b64encode(body.encode()).decode(),
    }


def test_what_the_api_answers_becomes_an_error_message(
    open_window: Callable[..., Window], customer: Customer, emulator: Emulator
) -> None:
    """No answer, or one that is not a JSON object, reads "Unknown error"; an API error object
    is shown as the API wrote it."""
    window = open_window(
        blink_url(
            emulator.url, iframe="true", user_id=customer.user_id, access_token=customer.token
        )
    )
    page = window.cdp
    page.wait_for("document.getElementById('title').textContent === 'Select your bank'", 15)
    page.send("Fetch.enable", {"patterns": [{"urlPattern": f"{emulator.url}/users/*"}]})
    cases = [
        (("Fetch.failRequest", {"errorReason": "ConnectionRefused"}), "Unknown error"),
        (fulfil(200, "text/html", "<p>A captive portal</p>"), "Unknown error"),
        (fulfil(200, "application/json", "{not json"), "Unknown error"),
        (fulfil(200, "application/json", "null"), "Unknown error"),
        (fulfil(200, "application/json", '"text"'), "Unknown error"),
        (fulfil(502, "application/json", '{"data": []}'), "Unknown error"),
        (fulfil(502, "application/json", '{"data": [{"title": "Bad gateway"}]}'), "Bad gateway"),
        (
            fulfil(500, "application/json", '{"data": [{"title": "T", "detail": "Says who"}]}'),
            "Says who",
        ),
    ]
    for (method, params), message in cases:
        page.evaluate("document.documentElement.setAttribute('data-unloading', '')")
        page.evaluate("location.reload()")
        paused = paused_request(page)
        assert paused["request"]["url"] == f"{emulator.url}/users/{customer.user_id}"
        assert paused["request"]["headers"]["Authorization"] == f"Bearer {customer.token}"
        page.send(method, {"requestId": paused["requestId"], **params})
        page.wait_for(
            "!document.documentElement.hasAttribute('data-unloading')"
            " && document.getElementById('title').textContent === 'Error'",
            15,
        )
        assert page.text("#error-message") == message, (method, params)

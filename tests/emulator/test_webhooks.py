"""Webhooks: registered over the API, delivered by the emulator's own thread to a real receiver
on another port, and verified there with `standardwebhooks`, as an application would."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import bottle
import pytest
from standardwebhooks.webhooks import EmptyWebhookSecretError, Webhook, WebhookVerificationError

from blink_desktop.emulator import Emulator, FakeClock
from blink_desktop.emulator.webhooks import SCHEDULE
from tests.conftest import Api, error_of, serving, wait_for
from tests.emulator.people import Person


@dataclass
class Delivery:
    headers: dict[str, str]
    body: bytes
    refusal: str | None  # why the receiver's standardwebhooks check failed, if it did

    @property
    def message(self) -> dict[str, Any]:
        assert self.refusal is None, self.refusal
        return dict(json.loads(self.body))


@dataclass
class Receiver:
    """An application's webhook endpoint. As a real one does, it checks each message with
    standardwebhooks against its webhook's secret (400 when that fails); then it records the
    message and answers `answers` first, then 204."""

    url: str = ""
    secret: str = ""
    received: list[Delivery] = field(default_factory=list)
    answers: list[int] = field(default_factory=list)
    hold: threading.Event | None = None

    def wait(self, count: int, timeout: float = 10.0) -> list[Delivery]:
        wait_for(lambda: len(self.received) >= count, timeout)
        return list(self.received)

    def types(self) -> list[str]:
        return [delivery.message["eventTypeId"] for delivery in self.received]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    got = Receiver()
    app = bottle.Bottle()

    def hook() -> Any:
        if got.hold is not None:
            got.hold.wait(10)
        headers, body = dict(bottle.request.headers), bottle.request.body.read()
        try:
            Webhook(got.secret).verify(body, headers)
            refusal = None
        except (WebhookVerificationError, EmptyWebhookSecretError, ValueError) as exc:
            refusal = repr(exc)
        got.received.append(Delivery(headers, body, refusal))
        bottle.response.status = 400 if refusal else got.answers.pop(0) if got.answers else 204
        return ""

    app.route("/hooks/basiq", "POST", hook)
    with serving(app) as url:
        got.url = f"{url}/hooks/basiq"
        yield got
        if got.hold is not None:
            got.hold.set()


def register(api: Api, to: Receiver | str, **fields: Any) -> dict[str, Any]:
    """Register a webhook; a receiver is given its secret, as an application keeps it."""
    url = to.url if isinstance(to, Receiver) else to
    response = api.call("POST", "/notifications/webhooks", api.token(), json={"url": url, **fields})
    assert response.status_code == 201, response.text
    if isinstance(to, Receiver):
        to.secret = response.json()["secret"]
    return dict(response.json())


def test_register_list_read_and_delete_a_webhook(api: Api, receiver: Receiver) -> None:
    created = register(
        api,
        receiver,
        name="My app",
        description="Every connection change",
        subscribedEvents=["connection.created", "connection.deleted"],
    )
    assert set(created) == {
        "type",
        "id",
        "name",
        "description",
        "url",
        "status",
        "secret",
        "subscribedEvents",
        "links",
    }
    assert created["type"] == "webhook"
    assert (created["url"], created["status"]) == (receiver.url, "active")
    assert created["subscribedEvents"] == ["connection.created", "connection.deleted"]
    assert created["secret"].startswith("whsec_")
    assert created["links"]["self"] == f"{api.url}/notifications/webhooks/{created['id']}"
    server = api.token()
    listed = api.call("GET", "/notifications/webhooks", server).json()
    assert (listed["type"], listed["count"], listed["data"]) == ("list", 1, [created])
    assert api.call("GET", f"/notifications/webhooks/{created['id']}", server).json() == created
    everything = register(api, receiver.url + "/all", subscribedEvents="user.created")
    assert everything["subscribedEvents"] == ["user.created"]  # one type as a string, as Basiq's
    assert api.call("DELETE", f"/notifications/webhooks/{created['id']}", server).status_code == 204
    gone = api.call("GET", f"/notifications/webhooks/{created['id']}", server)
    assert gone.status_code == 404
    assert api.call("GET", "/notifications/webhooks", server).json()["count"] == 1


@pytest.mark.parametrize(
    ("body", "status", "detail"),
    [
        ({}, 400, "url parameter is required."),
        ({"url": "ftp://example.com/hook"}, 400, "url must be an absolute http or https URL."),
        ({"url": "/relative"}, 400, "url must be an absolute http or https URL."),
        (
            {"url": "http://127.0.0.1:9/h", "subscribedEvents": ["user.created", "no.such"]},
            400,
            "Unsupported event types: no.such.",
        ),
        ({"url": 7}, 400, "Posted webhook is not in valid format."),
    ],
)
def test_bad_webhooks_are_refused(api: Api, body: dict[str, Any], status: int, detail: str) -> None:
    response = api.call("POST", "/notifications/webhooks", api.token(), json=body)
    assert response.status_code == status
    assert error_of(response)["detail"] == detail


def test_one_webhook_per_url_and_only_server_tokens(api: Api, receiver: Receiver) -> None:
    register(api, receiver)
    again = api.call("POST", "/notifications/webhooks", api.token(), json={"url": receiver.url})
    assert again.status_code == 409
    assert error_of(again)["code"] == "resource-already-exists"
    client = api.token("CLIENT_ACCESS", "3.0", user_id=api.user())
    for method, path in (("GET", "/notifications/webhooks"), ("GET", "/events/x")):
        assert api.call(method, path, client).status_code == 403


def test_what_happens_is_delivered_signed_and_readable_as_events(
    api: Api, receiver: Receiver
) -> None:
    register(api, receiver)
    person = Person(api)
    person.accept()
    connection = person.connected(person.log_in())
    server = api.token()
    revoked = api.call("GET", f"/users/{person.user_id}/consents", server).json()["data"][0]
    assert (
        api.call("DELETE", f"/users/{person.user_id}/consents/{revoked['id']}", server).status_code
        == 204
    )
    assert api.call("DELETE", f"/users/{person.user_id}", server).status_code == 204
    expected = [
        "user.created",
        "consent.created",
        "connection.created",
        "connection.activated",
        "transactions.updated",
        "connection.deleted",
        "consent.revoked",
        "user.deleted",
    ]
    deliveries = receiver.wait(len(expected))
    # One webhook's messages go one at a time, so a receiver that takes them gets them in order.
    assert receiver.types() == expected
    for delivery in deliveries:
        message = delivery.message  # the receiver's standardwebhooks check passed
        assert set(message) == {"eventTypeId", "eventId", "links"}
        assert delivery.headers["Content-Type"] == "application/json"
        assert delivery.headers["Webhook-Id"].startswith("msg_")
        event = api.call("GET", f"/events/{message['eventId']}", server)
        assert event.status_code == 200
        shown = event.json()
        links = {"event": shown["links"]["self"], "eventEntity": shown["dataRef"]}
        assert message["links"] == links
        assert f"{shown['entity']}.{shown['eventType']}" == message["eventTypeId"]
        assert shown["userId"] == person.user_id
        assert shown["createdDate"].endswith("Z")
    created = api.call("GET", f"/events/{deliveries[2].message['eventId']}", server).json()
    assert created["type"] == "event"
    assert created["dataRef"] == f"{api.url}/users/{person.user_id}/connections/{connection}"
    assert (created["data"]["id"], created["data"]["method"]) == (connection, "web")
    assert created["data"]["status"] == "active"
    consent = api.call("GET", f"/events/{deliveries[6].message['eventId']}", server).json()
    assert (consent["data"]["id"], consent["data"]["status"]) == (revoked["id"], "revoked")
    assert api.call("GET", "/events/no-such-event", server).status_code == 404


def test_a_webhook_gets_only_what_it_subscribed_to(api: Api, receiver: Receiver) -> None:
    register(api, receiver, subscribedEvents=["connection.activated"])
    person = Person(api)
    person.accept()
    person.connected(person.log_in())
    person.connected(person.log_in("jared", "django"))
    assert [d.message["eventTypeId"] for d in receiver.wait(2)] == ["connection.activated"] * 2


def test_a_failed_web_refresh_invalidates_and_a_new_login_activates(
    api: Api, receiver: Receiver
) -> None:
    register(api, receiver, subscribedEvents=["connection.invalidated", "connection.activated"])
    user = api.user()
    connection = api.connected(user)
    receiver.wait(1)
    server = api.token()
    wrong = {"loginId": "gavinBelson", "password": "wrong"}
    job = api.call("POST", f"/users/{user}/connections/{connection}", server, json=wrong)
    api.wait_job(job.json()["id"], "verify-credentials", "failed")
    right = {"loginId": "gavinBelson", "password": "hooli2016"}
    job = api.call("POST", f"/users/{user}/connections/{connection}", server, json=right)
    api.wait_job(job.json()["id"], "verify-credentials", "success")
    receiver.wait(3)
    assert receiver.types() == [
        "connection.activated",
        "connection.invalidated",
        "connection.activated",
    ]


def test_events_from_jobs_go_out_with_nobody_polling(clock: FakeClock, receiver: Receiver) -> None:
    with Emulator(clock=clock) as emulator:
        api = Api(emulator)
        register(api, receiver, subscribedEvents=["connection.activated"])
        person = Person(api)
        person.accept()
        person.log_in()
        clock.advance(30)  # the job is done, and no request asks about it
        [delivery] = receiver.wait(1)
    assert delivery.message["eventTypeId"] == "connection.activated"


def test_a_failing_receiver_gets_the_same_message_again_on_the_schedule(
    clock: FakeClock, receiver: Receiver
) -> None:
    # Job speed 2 halves the schedule, and keeps the retries within the 5 minutes in which
    # standardwebhooks accepts a timestamp.
    with Emulator(clock=clock, job_speed=2) as emulator:
        api = Api(emulator)
        register(api, receiver, subscribedEvents=["user.created"])
        receiver.answers = [500, 503]
        api.user()
        started = clock()
        for count, wait in ((1, SCHEDULE[1]), (2, SCHEDULE[2])):
            receiver.wait(count)
            message = wait_for(partial(_message, emulator, count))
            assert message["next_at"] == pytest.approx(clock() + wait / 2)
            clock.advance(wait / 2)
        deliveries = receiver.wait(3)
        wait_for(lambda: _message(emulator, 3, "delivered"))
    assert len({d.headers["Webhook-Id"] for d in deliveries}) == 1
    assert len({d.body for d in deliveries}) == 1
    stamps = [int(d.headers["Webhook-Timestamp"]) for d in deliveries]
    assert stamps == [int(started), int(started + 2.5), int(started + 152.5)]
    assert [d.refusal for d in deliveries] == [None, None, None]


def _message(emulator: Emulator, attempts: int, status: str = "pending") -> dict[str, Any] | None:
    [message] = emulator.webhooks.messages()
    return message if (message["attempts"], message["status"]) == (attempts, status) else None


def test_after_eight_attempts_a_message_is_given_up(clock: FakeClock, receiver: Receiver) -> None:
    with Emulator(clock=clock, job_speed=3600) as emulator:
        api = Api(emulator)
        register(api, receiver, subscribedEvents=["user.created"])
        receiver.answers = [500] * 8
        api.user()
        gaps = []
        for attempt in range(1, 8):
            receiver.wait(attempt)
            message = wait_for(partial(_message, emulator, attempt))
            gaps.append(round((message["next_at"] - clock()) * 3600, 3))
            clock.advance(message["next_at"] - clock())
        receiver.wait(8)
        given_up = wait_for(lambda: _message(emulator, 8, "failed"))
    assert gaps == list(SCHEDULE[1:])
    assert (given_up["last_answer"], given_up["next_at"]) == ("HTTP 500", None)


def test_a_receiver_that_hangs_never_slows_the_api(api: Api, receiver: Receiver) -> None:
    receiver.hold = threading.Event()
    register(api, receiver)
    started = time.monotonic()
    person = Person(api)  # user.created: its delivery hangs in the receiver
    person.accept()
    person.connected(person.log_in())
    assert time.monotonic() - started < 5
    assert receiver.received == []
    receiver.hold.set()
    assert receiver.wait(1)[0].message["eventTypeId"] == "user.created"


def test_a_deleted_webhook_gets_nothing_more(api: Api, receiver: Receiver) -> None:
    hook = register(api, receiver, subscribedEvents=["user.created"])
    api.user("one@x.co")
    receiver.wait(1)
    assert api.call("DELETE", f"/notifications/webhooks/{hook['id']}", api.token()).ok
    other = register(api, receiver.url + "/other", subscribedEvents=["user.created"])
    api.user("two@x.co")
    wait_for(lambda: _all_settled(api))
    assert receiver.types() == ["user.created"]
    assert other["id"] != hook["id"]


def _all_settled(api: Api) -> bool:
    messages = api.emulator.webhooks.messages()
    return bool(messages) and all(m["status"] != "pending" or m["attempts"] for m in messages)


def test_webhooks_survive_a_restart_with_a_state_file(tmp_path: Any, receiver: Receiver) -> None:
    state = tmp_path / "emulator.sqlite"
    with Emulator(state_path=state) as first:
        hook = register(Api(first), receiver, subscribedEvents=["user.created"])
    with Emulator(state_path=state) as second:
        api = Api(second)
        [kept] = api.call("GET", "/notifications/webhooks", api.token()).json()["data"]
        assert {**kept, "links": None} == {**hook, "links": None}  # the port is new
        api.user()
        assert receiver.wait(1)[0].message["eventTypeId"] == "user.created"

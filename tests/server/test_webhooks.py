"""Basiq's webhooks at `POST /webhooks/basiq`, over HTTP, on both engines: verified with
standardwebhooks, refused when forged, stale or unsigned, recorded once however often they
come, answered at once, and told in the status of the connections apps reported."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
import requests

from blink_desktop.emulator import Emulator, Fault
from blink_desktop.errors import SettingsError
from blink_desktop.server.data_routes import client_key
from blink_desktop.settings import load_settings
from tests.conftest import wait_for
from tests.server.conftest import CLIENT, Running
from tests.server.hooks import SECRET, deliver, message, signed

OTHER_SECRET = "whsec_" + "b3RoZXIgc2VjcmV0IG9mIDI0IGJ5dGVzISE="


def result(reply: requests.Response) -> dict[str, object]:
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["success"] is True
    return dict(body["result"])


def statuses(server: Running, user: str = "u1") -> dict[str, str]:
    reply = server.get(f"/users/{user}/connections", **{"X-Client-Id": CLIENT})
    return {item["id"]: item["status"] for item in reply.json()["result"]}


def known(server: Running, user: str = "u1") -> None:
    """Make `user` a user this server made for CLIENT, as POST /user does, but with the id the
    webhooks name rather than one from Basiq."""
    server.server.store.user_for(f"{user}@example.com", lambda: user)
    server.server.store.admit(user, client_key(CLIENT))


def report(server: Running, connection: str, user: str = "u1") -> None:
    known(server, user)
    body = {"client_id": CLIENT, "user_id": user, "connection_id": connection}
    assert server.post("/connections", body).status_code == 201


def test_a_valid_webhook_is_recorded_once_even_when_sent_twice(
    serve: Callable[..., Running],
) -> None:
    server = serve(webhook_secret=SECRET)
    report(server, "c1")
    body = message("connection.activated")
    headers = signed(body, at=datetime.now(UTC) - timedelta(minutes=4))  # within 5 minutes
    first = result(deliver(server.url, body, headers))
    assert first == {"id": headers["webhook-id"], "duplicate": False}
    assert result(deliver(server.url, body, headers)) == {**first, "duplicate": True}
    # Basiq's retry: the same webhook-id, a new timestamp and signature.
    retried = signed(body, message_id=headers["webhook-id"])
    assert result(deliver(server.url, body, retried)) == {**first, "duplicate": True}
    assert len(server.server.store.connection_events("u1")) == 1
    assert statuses(server) == {"c1": "active"}


def forgeries(body: bytes, mid: str) -> list[tuple[str, bytes, dict[str, str], str]]:
    """(what is wrong, the body sent, its headers, the refusal's code), for message `mid`."""
    good = signed(body, message_id=mid)
    now = datetime.now(UTC)
    invalid, stale, unsigned = "webhook-signature-invalid", "webhook-stale", "webhook-unsigned"
    return [
        ("another secret", body, signed(body, message_id=mid, secret=OTHER_SECRET), invalid),
        ("a changed body", body.replace(b"c1", b"c2"), good, invalid),
        (
            "another message's signature",
            body,
            {
                **good,
                "webhook-signature": signed(body, message_id="msg_other")["webhook-signature"],
            },
            invalid,
        ),
        ("no comma", body, {**good, "webhook-signature": "v1"}, invalid),
        (
            "no v1",
            body,
            {**good, "webhook-signature": "v2," + good["webhook-signature"][3:]},
            invalid,
        ),
        ("a bad timestamp", body, {**good, "webhook-timestamp": "soon"}, invalid),
        ("a body not UTF-8", b"\xff" + body, good, invalid),
        ("stale", body, signed(body, message_id=mid, at=now - timedelta(minutes=6)), stale),
        ("future", body, signed(body, message_id=mid, at=now + timedelta(minutes=6)), stale),
        ("unsigned", body, {"Content-Type": "application/json"}, unsigned),
        (
            "no signature",
            body,
            {k: v for k, v in good.items() if k != "webhook-signature"},
            unsigned,
        ),
        (
            "no timestamp",
            body,
            {k: v for k, v in good.items() if k != "webhook-timestamp"},
            unsigned,
        ),
    ]


def test_a_forged_stale_or_unsigned_webhook_is_refused_and_logged(
    serve: Callable[..., Running], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="blink_desktop.server")
    server = serve(webhook_secret=SECRET)
    report(server, "c1")
    body = message("connection.invalidated")
    for name, sent, headers, code in forgeries(body, "msg_genuine"):
        caplog.clear()
        reply = deliver(server.url, sent, headers)
        assert reply.status_code == 400, name
        assert reply.json()["success"] is False
        assert reply.json()["error"] == {"code": code}, name
        refused = [r for r in caplog.records if "webhook refused" in r.getMessage()]
        assert len(refused) == 1 and code in refused[0].getMessage(), name
        assert refused[0].levelno == logging.WARNING
    assert server.server.store.connection_events("u1") == []
    assert statuses(server) == {"c1": "reported"}
    # None of them took the message's id: the genuine message with that id is recorded.
    genuine = result(deliver(server.url, body, signed(body, message_id="msg_genuine")))
    assert genuine == {"id": "msg_genuine", "duplicate": False}
    assert statuses(server) == {"c1": "invalid"}
    logged = " ".join(record.getMessage() for record in caplog.records)
    assert SECRET not in logged and SECRET.removeprefix("whsec_") not in logged


@pytest.mark.parametrize(
    "body",
    [b"not json", b"[1, 2]", b"{}", b'{"eventTypeId": "connection.activated"}']
    + [b'{"eventTypeId": "DROP TABLE", "eventId": "e1"}', b'{"eventTypeId": 7, "eventId": "e1"}']
    + [b'{"eventTypeId": "user.created", "eventId": "../../x"}'],
)
def test_a_signed_body_that_is_no_webhook_is_refused(
    serve: Callable[..., Running], body: bytes
) -> None:
    server = serve(webhook_secret=SECRET)
    reply = deliver(server.url, body, signed(body))
    assert (reply.status_code, reply.json()["error"]) == (400, {"code": "webhook-invalid"})


def test_without_a_secret_webhooks_are_refused_until_one_is_set(
    serve: Callable[..., Running], caplog: pytest.LogCaptureFixture
) -> None:
    server = serve()
    body = message()
    reply = deliver(server.url, body, signed(body))
    # 503: not the sender's fault, and Basiq retries it once the secret is set.
    assert (reply.status_code, reply.json()["error"]) == (503, {"code": "webhooks-not-configured"})
    assert "BLINK_DESKTOP_WEBHOOK_SECRET" in reply.json()["errorMessage"]
    assert any("BLINK_DESKTOP_WEBHOOK_SECRET" in r.getMessage() for r in caplog.records)


def test_the_answer_does_not_wait_for_basiq(
    serve: Callable[..., Running], emulator: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="blink_desktop.server")
    server = serve(webhook_secret=SECRET)
    emulator.faults.add(Fault(route="GET /events/*", latency=3))
    body = message("connection.activated", event_id="e-not-at-basiq")
    started = time.monotonic()
    reply = deliver(server.url, body, signed(body))
    assert time.monotonic() - started < 1.5
    assert result(reply)["duplicate"] is False
    # The event is read after the answer; this one is not Basiq's (404): it is left unread,
    # and its webhook keeps its place in the order of arrival.
    wait_for(
        lambda: any("no event e-not-at-basiq" in r.getMessage() for r in caplog.records),
        timeout=15,
    )


def test_a_reported_connections_status_follows_its_events(serve: Callable[..., Running]) -> None:
    server = serve(webhook_secret=SECRET)
    report(server, "c1")
    report(server, "c2")

    def tell(event_type: str, connection: str, user: str = "u1") -> None:
        body = message(event_type, user=user, connection=connection)
        assert result(deliver(server.url, body, signed(body)))["duplicate"] is False

    tell("connection.created", "c1")
    assert statuses(server) == {"c1": "created", "c2": "reported"}
    tell("connection.activated", "c1")
    tell("transactions.updated", "c1")  # recorded, and no status
    tell("connection.activated", "c2")
    assert statuses(server) == {"c1": "active", "c2": "active"}
    tell("connection.invalidated", "c1")
    assert statuses(server) == {"c1": "invalid", "c2": "active"}
    tell("connection.deleted", "c1")
    tell("connection.activated", "c1")  # a late retry: a deleted connection stays deleted
    assert statuses(server) == {"c1": "deleted", "c2": "active"}
    # An event may come before the app's report: the report finds it.
    tell("connection.activated", "c3")
    tell("connection.activated", "c4", user="u2")  # another person's
    report(server, "c3")
    assert statuses(server) == {"c1": "deleted", "c2": "active", "c3": "active"}
    known(server, "u2")
    assert statuses(server, "u2") == {}


def test_the_webhook_secret_setting_is_checked_and_never_shown(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("BLINK_DESKTOP_WEBHOOK_SECRET", f"  {SECRET} ")
    secret = load_settings().webhook_secret
    assert secret is not None and secret.get_secret_value() == SECRET
    assert SECRET not in repr(load_settings())
    monkeypatch.setenv("BLINK_DESKTOP_WEBHOOK_SECRET", "")
    assert load_settings().webhook_secret is None
    monkeypatch.setenv("BLINK_DESKTOP_WEBHOOK_SECRET", "whsec_not base64, hunter2!")
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert "BLINK_DESKTOP_WEBHOOK_SECRET" in str(caught.value)
    assert "whsec_" in str(caught.value) and "hunter2" not in str(caught.value)

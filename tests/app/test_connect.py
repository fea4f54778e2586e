"""The connect service behind the bridge: a whole connect on the emulator, failures,
identity, and every message accepted or rejected with a reason, never raised."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from blink_desktop.app.blink_events import Rejected, parse_event
from blink_desktop.app.bridge import Bridge
from blink_desktop.app.store import Store
from blink_desktop.emulator import Emulator
from tests.app.conftest import ORIGIN, TOKEN, message
from tests.conftest import Api


def test_start_connect_gives_blink_url_with_user_and_client_token(
    bridge: Bridge, emulator: Emulator, store: Store
) -> None:
    started = bridge.start_connect(TOKEN, "http://127.0.0.1:5")
    assert started["ok"] is True
    url = urlsplit(started["url"])
    query = parse_qs(url.query)
    assert f"{url.scheme}://{url.netloc}{url.path}" == f"{emulator.url}/index.html"
    assert query["iframe"] == ["true"]
    assert query["parent_origin"] == ["http://127.0.0.1:5"]
    assert store.basiq_user("gavin@hooli.com") == query["user_id"][0]
    again = parse_qs(urlsplit(bridge.start_connect(TOKEN)["url"]).query)
    assert again["user_id"] == query["user_id"]  # the same person keeps one Basiq user
    assert again["access_token"] != query["access_token"]  # a fresh token for each connect
    assert emulator.api_key not in started["url"]


def test_a_full_connect_through_the_bridge(bridge: Bridge, emulator: Emulator) -> None:
    query = parse_qs(urlsplit(bridge.start_connect(TOKEN)["url"]).query)
    api = Api(emulator)
    response = api.connect(query["user_id"][0], token=query["access_token"][0])
    job_id = response.json()["id"]
    job = api.wait_job(job_id, "verify-credentials", "success")
    connection_id = job["links"]["source"].rsplit("/", 1)[1]
    assert bridge.receive(TOKEN, message("handshake", {"success": True}))["accepted"] is True
    got = bridge.receive(TOKEN, message("job", {"success": True, "data": {"id": job_id}}))
    assert (got["event"], got["job_id"]) == ("job", job_id)
    connected = bridge.receive(
        TOKEN, message("connection", {"success": True, "data": {"id": connection_id}})
    )
    assert connected["success"] is True
    assert connected["connection"]["id"] == connection_id
    api.wait_job(job_id, "retrieve-transactions", "success")
    progress = bridge.progress(TOKEN, job_id)
    assert progress["done"] is True and progress["failed"] is False
    [listed] = bridge.connections(TOKEN)["connections"]
    assert (listed["id"], listed["status"], listed["institution"]) == (
        connection_id,
        "active",
        "Hooli",
    )
    assert listed["logo"].startswith("data:image/svg+xml;base64,")  # not the emulator's port
    assert listed["institution_id"] == "AU00000" and "••" in listed["detail"]
    assert (progress["connection_id"], progress["found"]) == (connection_id, False)


def test_failure_is_recorded_and_reported_without_storing_a_connection(
    bridge: Bridge, store: Store
) -> None:
    failure = {
        "code": "invalid-credentials",
        "title": "Cannot login",
        "detail": "Check credentials.",
    }
    got = bridge.receive(TOKEN, message("connection", {"success": False, "data": failure}))
    assert got["accepted"] is True and got["success"] is False
    assert got["failure"] == failure
    assert store.connections() == []
    assert store.events()[-1]["payload"]["payload"]["data"] == failure


def test_identifier_is_validated_and_remembered_at_once(bridge: Bridge, store: Store) -> None:
    for wrong in ("not an email", 12, "   ", "a@b", "+61 4"):
        reply = bridge.set_identifier(TOKEN, wrong)
        assert reply == {
            "ok": False,
            "error": "Enter an email address (or a mobile number) to identify you to Basiq.",
            "retry": False,
        }, wrong
    assert store.last_identifier() is None
    assert bridge.bootstrap(TOKEN)["identifier"] == "gavin@hooli.com"  # unchanged
    assert bridge.set_identifier(TOKEN, " new@x.co ")["identifier"] == "new@x.co"
    assert bridge.bootstrap(TOKEN)["identifier"] == "new@x.co"
    assert store.basiq_user("new@x.co") is not None  # remembered before any connect
    assert store.last_identifier() == "new@x.co"


def test_progress_only_for_this_windows_jobs(bridge: Bridge) -> None:
    reply = bridge.progress(TOKEN, "someone-elses-job")
    assert reply["ok"] is False


hostile = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=15,
)


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    data=hostile
    | st.text(max_size=200)
    | st.builds(
        lambda event, payload: {"event": event, "payload": payload},
        st.sampled_from(["handshake", "job", "connection", "cancellation", "completion", "evil"]),
        hostile,
    )
)
def test_any_message_is_accepted_or_rejected_never_raised(
    bridge: Bridge, store: Store, data: Any
) -> None:
    try:
        expected: str | None = parse_event(data).event
        reason = None
    except Rejected as rejected:
        expected, reason = None, str(rejected)
    before = len(store.events())
    reply = bridge.receive(TOKEN, {"origin": ORIGIN, "data": data})
    assert reply["ok"] is True
    assert reply["accepted"] is (expected is not None)
    assert reply.get("event") == expected
    assert reply.get("reason") == reason
    events = store.events()
    assert len(events) == before + 1
    assert (events[-1]["accepted"], events[-1]["reason"]) == (expected is not None, reason)


def deeply_nested(depth: int) -> list[Any]:
    outer: list[Any] = []
    inner = outer
    for _ in range(depth):
        inner.append([])
        inner = inner[0]
    return outer


@pytest.mark.parametrize(
    ("origin", "data", "reason"),
    [
        ("\ud800", '{"event":"handshake","payload":{"success":true}}', None),
        (ORIGIN, '{"event":"handshake","payload":{"success":true},"x":"\ud800"}', "handshake: x"),
        (ORIGIN, {"event": "completion", "payload": {"note": "\udfff"}}, None),
        (ORIGIN, "[" * 5000 + "]" * 5000, "message is not JSON"),
        (ORIGIN, {"event": "completion", "payload": {"x": deeply_nested(5000)}}, "nested"),
        (ORIGIN, {"event": "completion", "payload": {"big": "x" * 2_000_000}}, "larger than"),
        (ORIGIN, {"event": "connection", "payload": {"success": 1, "data": {"id": "c1"}}}, "true"),
        (ORIGIN, {"event": "connection", "payload": {"success": 1.0, "data": {"id": "c"}}}, "true"),
        (ORIGIN, {"event": "connection", "payload": {"success": 0}}, "success must be"),
        (ORIGIN, {"event": "handshake", "payload": {"success": 1}}, "valid boolean"),
    ],
)
def test_hostile_messages_are_recorded_or_refused_with_a_reason(
    bridge: Bridge, store: Store, origin: str, data: Any, reason: str | None
) -> None:
    reply = bridge.receive(TOKEN, {"origin": origin, "data": data})
    assert reply["ok"] is True, reply
    [event] = store.events()
    assert event["accepted"] is (reason is None) is reply["accepted"]
    if reason is not None:
        assert reason in reply["reason"] and reason in event["reason"]
    assert len(json.dumps(event)) < 70_000  # capped, whatever came in
    assert store.connections() == []


def test_fix_opens_blink_in_update_mode_for_ones_own_connection_only(
    bridge: Bridge, emulator: Emulator, store: Store
) -> None:
    """Fix: Blink with `connection_id`; an id that is not this person's is refused in words."""
    query = parse_qs(urlsplit(bridge.start_connect(TOKEN)["url"]).query)
    user_id = query["user_id"][0]
    connection_id = Api(emulator).connected(user_id)
    with store.writing("test") as tx:
        tx.upsert_connection(connection_id, user_id, None)
    started = bridge.start_connect(TOKEN, "http://127.0.0.1:5", None, connection_id)
    assert started["ok"] is True and started["connection_id"] == connection_id
    fixing = parse_qs(urlsplit(started["url"]).query)
    assert fixing["connection_id"] == [connection_id]
    assert fixing["user_id"] == [user_id]
    assert fixing["access_token"] != query["access_token"]
    plain = bridge.start_connect(TOKEN)
    assert plain["connection_id"] is None and "connection_id" not in plain["url"]
    refused = bridge.start_connect(TOKEN, None, None, "not-a-stored-connection")
    assert refused["ok"] is False and "not one of yours" in refused["error"]

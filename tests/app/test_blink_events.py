"""Blink's protocol: each event's model, and what is rejected with a reason."""

from __future__ import annotations

from typing import Any

import pytest

from blink_desktop.app.blink_events import EVENT_NAMES, Rejected, parse_event


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (
            '{"event":"connection","payload":{"success":true,"data":{"id":"../../etc"}}}',
            "connection: payload.data.id: String should match pattern",
        ),
        (
            '{"event":"connection","payload":{"success":true,"data":{"id":""}}}',
            "connection: payload.data.id: String should have at least 1 character",
        ),
        (
            '{"event":"connection","payload":{"success":true}}',
            "connection: payload.data: Field required",
        ),
        (
            '{"event":"job","payload":{"success":true,"data":{"id":"x","extra":1}}}',
            "job: payload.data.extra: Extra inputs are not permitted",
        ),
        ('{"event":"handshake"}', "handshake: payload: Field required"),
        ('{"event":"__proto__","payload":{}}', "unknown event '__proto__'"),
        ("x" * 70_000, "message is larger than 65536 bytes"),
        ("[]", "message is not an object with an event"),
        ("{nope", "message is not JSON"),
    ],
)
def test_hostile_messages_are_rejected_with_a_reason(data: str, reason: str) -> None:
    with pytest.raises(Rejected) as rejected:
        parse_event(data)
    assert str(rejected.value).startswith(reason), str(rejected.value)


@pytest.mark.parametrize(
    ("data", "event", "success"),
    [
        ('{"event":"handshake","payload":{"success":true}}', "handshake", True),
        ('{"event":"handshake","payload":{"success":false}}', "handshake", False),
        ('{"event":"job","payload":{"success":true,"data":{"id":"fake-job-id"}}}', "job", True),
        (
            '{"event":"job","payload":{"success":false,"data":{"detail":"Unknown error"}}}',
            "job",
            False,
        ),
        (
            '{"event":"connection","payload":{"success":true,"data":{"id":"fake-connection-id"}}}',
            "connection",
            True,
        ),
        ('{"event":"cancellation"}', "cancellation", None),
        ({"event": "completion"}, "completion", None),
        (
            {"event": "completion", "payload": {"success": True, "data": {"institutionName": "H"}}},
            "completion",
            None,
        ),
    ],
)
def test_blinks_own_payloads_are_accepted(data: Any, event: str, success: bool | None) -> None:
    parsed = parse_event(data)
    assert parsed.event == event
    if success is not None:
        assert getattr(parsed.payload, "success", None) is success


def test_the_event_names_come_from_the_models() -> None:
    assert EVENT_NAMES == ("handshake", "job", "connection", "cancellation", "completion")
    payloads: dict[str, Any] = {
        "handshake": {"success": True},
        "job": {"success": True, "data": {"id": "j"}},
        "connection": {"success": True, "data": {"id": "c"}},
        "cancellation": None,
        "completion": None,
    }
    assert set(payloads) == set(EVENT_NAMES)
    for name, payload in payloads.items():
        assert parse_event({"event": name, "payload": payload}).event == name

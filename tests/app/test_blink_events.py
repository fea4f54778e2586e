"""Blink's protocol: each event's model, what is rejected with a reason, and basiq:// URLs."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from blink_desktop.app.blink_events import EVENT_NAMES, Rejected, parse_event, parse_scheme_url


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


# basiq://EVENT/JSON, as a webview navigates to it


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ('basiq://handshake/{"success":true}', ("handshake", {"success": True})),
        ("basiq://handshake/%7B%22success%22:true%7D", ("handshake", {"success": True})),
        ("basiq://cancellation/", ("cancellation", None)),
        ("basiq://cancellation", ("cancellation", None)),
        ("basiq://completion/", ("completion", None)),
        ("BASIQ://Connection/{}", ("connection", {})),
        (
            'basiq://job/{"success":false,"data":{"detail":"Unknown error"}}',
            ("job", {"success": False, "data": {"detail": "Unknown error"}}),
        ),
        (  # a literal escape-looking "%41" inside the JSON survives the raw form
            'basiq://connection/{"success":false,"data":{"detail":"100%41"}}',
            ("connection", {"success": False, "data": {"detail": "100%41"}}),
        ),
        (  # QUrl encodes everything again when the JSON holds a stray "%"
            "basiq://connection/%257B%2522success%2522:true,%2522data%2522:"
            "%257B%2522id%2522:%2522a%2520b%25%2522%257D%257D",
            ("connection", {"success": True, "data": {"id": "a b%"}}),
        ),
    ],
)
def test_parse(url: str, expected: tuple[str, Any]) -> None:
    assert parse_scheme_url(url) == expected


JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(st.characters(codec="utf-8")),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)


@given(
    event=st.sampled_from(sorted(EVENT_NAMES)),
    payload=st.dictionaries(st.text(max_size=8), JSON, max_size=4),
)
def test_parse_reads_what_blink_wrote_however_it_was_encoded(
    event: str, payload: dict[str, Any]
) -> None:
    text = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    once = quote(text, safe="")
    for body in (text, once, quote(once, safe="")):  # raw, Chromium, Chromium + QUrl
        assert parse_scheme_url(f"basiq://{event}/{body}") == (event, payload)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("", "not a basiq:// URL"),
        ("https://example.com/connection/{}", "not a basiq:// URL"),
        ("basiq:/connection/{}", "not a basiq:// URL"),
        ("basiq://", "unknown Blink event"),
        ("basiq://hack/{}", "unknown Blink event"),
        ("basiq://connection/{not json", "not valid JSON"),
        ("basiq://connection/[1,2]", "must be a JSON object"),
        ('basiq://connection/"text"', "must be a JSON object"),
        ('basiq://connection/{"n":NaN}', "not valid JSON"),
        ("basiq://connection/%ff%fe", "not valid JSON"),
        ("basiq://connection/" + "[" * 100_000, "characters long"),
        ("basiq://connection/" + "[" * 20_000 + "]" * 20_000, "not valid JSON"),
    ],
)
def test_parse_rejects_garbage(url: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_scheme_url(url)


def test_parse_rejects_non_strings() -> None:
    with pytest.raises(ValueError, match="must be a string"):
        parse_scheme_url(b"basiq://cancellation/")  # type: ignore[arg-type]

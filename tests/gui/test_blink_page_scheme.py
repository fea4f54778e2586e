"""basiq:// mode: Blink as the top-level page of a Qt window, and the parser for what it emits."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from blink_desktop.app.blink_events import EVENT_NAMES, parse_scheme_url
from blink_desktop.emulator import Emulator
from tests.conftest import Api, step
from tests.gui.conftest import Customer, Window, blink_url

# -------------------------------------------------------------------------------------------------
# parse(): no window needed


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


# -------------------------------------------------------------------------------------------------
# A real window with the navigation hook installed


def open_top_level(open_window: Callable[..., Window], emulator: Emulator, **params: str) -> Window:
    url = blink_url(emulator.url, **params)
    window = open_window(url, scheme_log=True)
    window.cdp.wait_for("document.getElementById('title').textContent === 'Select your bank'", 15)
    return window


@pytest.mark.gui
def test_success_reaches_the_navigation_hook(
    open_window: Callable[..., Window], emulator: Emulator, customer: Customer, api: Api
) -> None:
    window = open_top_level(
        open_window, emulator, user_id=customer.user_id, access_token=customer.token
    )
    page = window.cdp
    page.click('[data-institution-id="AU00000"]')
    page.wait_visible("#loginId")
    page.type("#loginId", "Whistler")
    page.type("#password", "ShowBox")
    page.click("#connect")
    page.wait_visible("#done", 15)
    page.click("#done")

    urls = window.settle_scheme_urls()
    events = [parse_scheme_url(url) for url in urls]
    assert [name for name, _ in events] == ["handshake", "job", "connection", "completion"]
    assert events[0][1] == {"success": True}
    job = events[1][1]
    assert job is not None and job["success"] is True
    connection = events[2][1]
    assert connection is not None and connection["success"] is True
    verify = step(api.job(job["data"]["id"]), "verify-credentials")
    assert connection == {
        "success": True,
        "data": {"id": verify["result"]["url"].rsplit("/", 1)[-1]},
    }
    assert events[3] == ("completion", None)
    # The page stayed where it was: the hook swallowed every navigation.
    assert page.evaluate("location.href").startswith(emulator.url)


@pytest.mark.gui
def test_cancel_reaches_the_navigation_hook(
    open_window: Callable[..., Window], emulator: Emulator, customer: Customer
) -> None:
    window = open_top_level(
        open_window, emulator, user_id=customer.user_id, access_token=customer.token
    )
    window.cdp.click("#close")  # the handshake is flushed first if its second is not up yet
    urls = window.settle_scheme_urls()
    assert [parse_scheme_url(url) for url in urls] == [
        ("handshake", {"success": True}),
        ("cancellation", None),
    ]
    assert urls[1].rstrip("/") == "basiq://cancellation"

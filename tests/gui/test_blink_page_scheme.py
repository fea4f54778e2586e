"""basiq:// mode: Blink as the top-level page of a Qt window, and its navigations caught.

The parser of those URLs is tested without a window, in tests/app/test_blink_events.py.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from blink_desktop.app.blink_events import parse_scheme_url
from blink_desktop.emulator import Emulator
from tests.conftest import Api, step
from tests.gui.conftest import Customer, Window, blink_url

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

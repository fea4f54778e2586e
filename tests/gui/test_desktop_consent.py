"""The desktop app in the consent flow (BLINK_DESKTOP_FLOW=consent), end to end: its own
process and window on its embedded emulator, the window going to the emulated Consent UI top
level and coming back through the redirect the app catches, driven like a person over DevTools.

What was stored is checked through the app's own command line (`connections --json`,
`events --json`) and against what the emulator's API holds. `connect_hooli_through_the_consent_ui`
is shared with the frozen binary's test (tests/gui/test_frozen.py).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from blink_desktop import upstream
from blink_desktop.basiq.client import BasiqClient
from blink_desktop.emulator import DEFAULT_API_KEY
from tests.gui.test_connection_page import (
    PAGE,
    Bank,
    assert_page_matches,
    refresh_fails_needing_a_fix,
    shown_count,
    simulate_break,
)
from tests.gui.test_consent_ui import ConsentUi
from tests.gui.test_desktop_app import Desktop, Xdo
from tests.gui.test_desktop_app import desktop as desktop  # noqa: F401  (the window fixture)
from tests.gui.test_desktop_app import x_display as x_display  # noqa: F401  (an Xvfb display)

pytestmark = pytest.mark.gui

HOME = (
    "location.pathname.endsWith('/desktop.html') && document.readyState === 'complete'"
    " && !!window.pywebview && !!window.pywebview.token"
)
ROWS = "document.querySelectorAll('#connections .item').length"


def consent_app(
    desktop: Callable[..., Desktop], command: list[str] | None = None, **options: str
) -> Desktop:
    """The app in the consent flow on its embedded emulator (its own redirect URL)."""
    if command:
        options["command"] = command  # type: ignore[assignment]
    app = desktop(flow="consent", **options)
    app.cdp.wait_for("document.getElementById('mode-badge').hidden === false", 20)
    app.cdp.wait_for("document.body.dataset.flow === 'consent'", 20)
    return app


def open_consent_ui(app: Desktop, button: str = "#connect") -> ConsentUi:
    """Press a button that sends the window to the Consent UI; wait for its first screen."""
    app.cdp.wait_for(f"!document.querySelector({json.dumps(button)}).disabled", 20)
    ConsentUi(app.cdp).click_away(button)  # once: the page is gone after it
    app.cdp.wait_for("location.pathname === '/home' && document.readyState === 'complete'", 20)
    ui = ConsentUi(app.cdp)
    ui.page.wait_for("(t => t && t.textContent)(document.getElementById('title'))", 20)
    return ui


def visit_query(app: Desktop) -> dict[str, str]:
    """The Consent UI's own URL parameters, as the app sent the window there."""
    url: str = app.cdp.evaluate("location.href")
    return {name: values[-1] for name, values in parse_qs(urlsplit(url).query).items()}


def back_home(app: Desktop) -> None:
    app.cdp.wait_for(HOME, 30)


def open_page(app: Desktop, connection_id: str) -> None:
    """Open a connection's page from its row; wait for its transactions."""
    app.cdp.click(f'#connections .item[data-id="{connection_id}"] .item-open')
    app.cdp.wait_for(f"!{PAGE}.hidden && document.querySelectorAll('#tx-rows .tx-row').length", 20)


def emulator_api(app: Desktop) -> tuple[str, dict[str, str]]:
    """While the window shows the Consent UI: the embedded emulator's URL and a server token
    for it (the app's emulator takes the default key), to compare what the app stored with
    what the API holds."""
    url: str = app.cdp.evaluate("location.origin")
    token = requests.post(
        f"{url}/token",
        headers={"Authorization": f"Basic {DEFAULT_API_KEY}", "basiq-version": "3.0"},
        data={"scope": "SERVER_ACCESS"},
        timeout=10,
    ).json()["access_token"]
    return url, {"Authorization": f"Bearer {token}"}


def listed_at_basiq(url: str, headers: dict[str, str], user_id: str) -> list[dict[str, Any]]:
    answer = requests.get(f"{url}/users/{user_id}/connections", headers=headers, timeout=10)
    answer.raise_for_status()
    data: list[dict[str, Any]] = answer.json()["data"]
    return data


def connect_hooli_through_the_consent_ui(app: Desktop) -> dict[str, Any]:
    """Connect a bank, accept, Hooli, gavinBelson, Done: the app stores it with its method and
    lists it. Returns the stored connection (`connections --json`)."""
    ui = open_consent_ui(app)
    query = visit_query(app)
    assert set(query) == {"token", "userId", "state"}
    # The Consent UI is another origin's page: it gets neither the bridge nor its token.
    assert app.cdp.evaluate("typeof window.pywebview") == "undefined"
    url, server = emulator_api(app)
    ui.accept()
    ui.choose("AU00000")
    ui.log_in("gavinBelson", "hooli2016")
    ui.wait_title("Connected")
    ui.click_away("#done")
    back_home(app)
    app.cdp.wait_for(f"{ROWS} === 1", 30)
    app.cdp.wait_for("document.querySelector('#connections .item').dataset.status === 'active'", 30)
    [shown] = app.listed()
    assert shown["name"] == "Hooli"
    assert "Hooli connected" in (app.cdp.text("#notice") or "")
    [stored] = app.cli("connections", "--json")
    [at_basiq] = listed_at_basiq(url, server, query["userId"])
    assert stored["id"] == shown["id"] == at_basiq["id"]
    assert (stored["method"], stored["status"], stored["user_id"]) == (
        at_basiq["method"],
        "active",
        query["userId"],
    )
    assert stored["method"] == "web"
    events = app.cli("events", "--json")
    [redirect] = [e for e in events if e["event"] == "redirect"]
    assert redirect["accepted"] is True and redirect["job_id"]
    assert query["token"] not in json.dumps(events)
    assert query["state"] in redirect["payload"]["url"]  # the way back, as it came
    return dict(stored)


def test_hooli_through_the_consent_ui_is_stored_listed_and_in_the_command_line(
    desktop: Callable[..., Desktop],  # noqa: F811
) -> None:
    app = consent_app(desktop)
    assert app.bootstrap()["flow"] == "consent"
    assert app.cdp.visible("#manage-consent")
    connect_hooli_through_the_consent_ui(app)


def test_a_forged_state_is_refused_and_nothing_is_stored(
    desktop: Callable[..., Desktop],  # noqa: F811
) -> None:
    app = consent_app(desktop)
    ui = open_consent_ui(app)
    genuine = visit_query(app)["state"]
    # A page in the window sends it to the redirect URL with jobs and a state of its own.
    forged = f"{upstream.EMULATED_REDIRECT}?jobId=job-1&jobIds=job-1&state=forged-{genuine[:8]}"
    ui.page.evaluate(f"location.assign({json.dumps(forged)})")
    back_home(app)
    app.cdp.wait_for("document.getElementById('notice').dataset.kind === 'error'", 20)
    assert "refused" in (app.cdp.text("#notice") or "")
    assert "Nothing was stored" in (app.cdp.text("#notice") or "")
    assert app.cli("connections", "--json") == []
    [redirect] = [e for e in app.cli("events", "--json") if e["event"] == "redirect"]
    assert redirect["accepted"] is False
    assert "not the one this window sent" in redirect["reason"]
    assert app.listed() == []


def test_leaving_the_consent_ui_is_a_cancellation_and_stores_nothing(
    desktop: Callable[..., Desktop],  # noqa: F811
) -> None:
    app = consent_app(desktop)
    ui = open_consent_ui(app)
    ui.page.wait_visible("#close", 15)
    ui.page.click("#close")
    ui.confirm("leave-dialog", "leave-confirm", leaves=True)
    back_home(app)
    app.cdp.wait_for(
        "document.getElementById('notice').textContent.includes('no bank was connected')", 20
    )
    assert app.cli("connections", "--json") == []
    [redirect] = [e for e in app.cli("events", "--json") if e["event"] == "redirect"]
    assert redirect["accepted"] is True and "cancellation" in redirect["reason"]
    assert app.cdp.evaluate("document.activeElement.id") in ("connect", "")


def test_manage_and_revoke_empties_the_list(
    desktop: Callable[..., Desktop],  # noqa: F811
) -> None:
    app = consent_app(desktop)
    stored = connect_hooli_through_the_consent_ui(app)
    ui = open_consent_ui(app, "#manage-consent")
    query = visit_query(app)
    assert query["action"] == "manage"
    url, server = emulator_api(app)
    ui.wait_title("Manage your consent")
    cards = "[...document.querySelectorAll('#connections [data-connection-id]')]"
    assert ui.page.evaluate(f"{cards}.map(c => c.dataset.connectionId)") == [stored["id"]]
    ui.page.click('#consents [data-action="revoke"]')
    ui.confirm("confirm-dialog", "confirm-ok")
    ui.page.wait_for("document.querySelector('#consents .status').textContent === 'revoked'", 10)
    ui.click_away("#manage-done")
    back_home(app)
    app.cdp.wait_for(f"{ROWS} === 0 && !document.getElementById('empty').hidden", 30)
    assert app.cli("connections", "--json") == []
    assert listed_at_basiq(url, server, query["userId"]) == []
    events = [e["event"] for e in app.cli("events", "--json")]
    assert events.count("redirect") == 2 and "removed" in events


def test_escape_and_ctrl_w_bring_the_window_back_from_the_consent_ui(
    desktop: Callable[..., Desktop],  # noqa: F811
    x_display: str,  # noqa: F811
) -> None:
    """Real keys: the Consent UI may offer no way back (an error page), and Ctrl+W there must
    not quit the app: both keys bring the app's own page back, as they close the panel."""
    app = consent_app(desktop, display=x_display)
    for key in ("Escape", "ctrl+w"):
        ui = open_consent_ui(app)
        ui.page.wait_visible("#screen-consent", 15)
        xdo = Xdo.find(x_display)
        xdo.click(*ui.page.element_center("#title"))  # the window has the focus, as a person's
        xdo.key(key)
        back_home(app)
        assert app.process.poll() is None
    assert app.cli("connections", "--json") == []


def test_fix_logs_in_again_through_the_consent_ui_and_refreshes_the_data(
    desktop: Callable[..., Desktop],  # noqa: F811
) -> None:
    """Issue 13's Fix in the consent flow: a broken connection's Fix takes the window to the
    Consent UI with its `connectionId`; leaving there brings the window back to that page, still
    to fix; logging in again brings it back Active, with the data the bank has now. Nothing new
    is stored."""
    app = consent_app(desktop)
    stored = connect_hooli_through_the_consent_ui(app)
    open_page(app, stored["id"])
    # Days pass at the bank while the connection is broken: only a fetch after the fix has them.
    app.cdp.click("#conn-simulate summary")
    app.cdp.type("#sim-days", "3")
    app.cdp.click("#sim-time button")
    app.cdp.wait_for("document.getElementById('conn-notice').textContent.includes('passed')", 10)
    simulate_break(app)
    refresh_fails_needing_a_fix(app)
    before = shown_count(app)

    # Leaving the Consent UI brings the window back to the page, which still needs fixing.
    ui = open_consent_ui(app, "#conn-fix")
    ui.page.wait_visible("#close", 15)
    ui.page.click("#close")
    ui.confirm("leave-dialog", "leave-confirm", leaves=True)
    back_home(app)
    app.cdp.wait_for(f"!{PAGE}.hidden && {PAGE}.dataset.status === 'invalid'", 30)
    app.cdp.wait_for("document.getElementById('conn-notice').textContent.includes('still')", 10)
    assert "still needs fixing" in (app.cdp.text("#conn-notice") or "")
    assert app.cdp.visible("#conn-fix")

    ui = open_consent_ui(app, "#conn-fix")
    query = visit_query(app)
    assert (query["action"], query["connectionId"]) == ("connect", stored["id"])
    assert query["userId"] == stored["user_id"]
    assert app.cdp.evaluate("typeof window.pywebview") == "undefined"
    url, server = emulator_api(app)
    ui.wait_title("Update your login")
    ui.log_in("gavinBelson", "hooli2016")
    ui.wait_title("Connected")
    ui.click_away("#done")
    back_home(app)

    # Back on the connection's page, Active again, and the data refreshed to what Basiq holds.
    app.cdp.wait_for(f"!{PAGE}.hidden && {PAGE}.dataset.status === 'active'", 30)
    assert app.cdp.text("#conn-title") == "Hooli"
    app.cdp.wait_for("document.getElementById('conn-fix').hidden", 5)
    app.cdp.wait_for("document.getElementById('conn-notice').textContent === 'Up to date.'", 60)
    bank = Bank(BasiqClient(url), DEFAULT_API_KEY, stored["user_id"], stored["id"])
    transactions = assert_page_matches(app, bank)
    assert len(transactions) > before

    # The same connection, updated in place: not a second one, here or at Basiq.
    [again] = app.cli("connections", "--json")
    assert (again["id"], again["status"], again["method"]) == (stored["id"], "active", "web")
    assert [item["id"] for item in listed_at_basiq(url, server, stored["user_id"])] == [
        stored["id"]
    ]
    assert [item["id"] for item in app.listed()] == [stored["id"]]
    # The way back is in the events log, as the first visit's was.
    events = app.cli("events", "--json")
    redirects = [e for e in events if e["event"] == "redirect"]
    assert [r["accepted"] for r in redirects] == [True, True, True]
    assert "cancellation" in redirects[1]["reason"]
    assert redirects[-1]["job_id"] and redirects[-1]["job_id"] != redirects[0]["job_id"]
    assert query["state"] in redirects[-1]["payload"]["url"]
    assert query["token"] not in json.dumps(events)

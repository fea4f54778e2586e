"""The emulated Consent UI in a real window, driven like a person over DevTools, and the
application it sends the person back to: a small server on another port that records each
return exactly as it arrived.

One window per test; each test walks one of Basiq's flows to its end (the redirect), then
checks what the redirect carried against what the API says.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlencode

import bottle
import pytest
import requests

from blink_desktop.emulator import Emulator, FakeClock
from blink_desktop.emulator.views import iso
from harness.cdp import CDP
from tests.conftest import Api, serving, step, step_status, wait_for
from tests.emulator.conftest import advance_until
from tests.emulator.people import HOOLI, HOOLI_OPEN_BANKING, PIED_PIPER, Person
from tests.gui.conftest import Window

pytestmark = pytest.mark.gui

RETURN_PAGE = "<!doctype html><html lang='en'><meta charset='utf-8'><title>Back</title><p>Back</p>"
NO_OVERFLOW = "document.documentElement.scrollWidth <= window.innerWidth"


# -------------------------------------------------------------------------------------------------
# The application: where the Consent UI sends the person back


@dataclass
class Application:
    """The redirect URL's server; `returns` holds each query string as it arrived."""

    url: str = ""
    returns: list[str] = field(default_factory=list)

    @property
    def redirect_url(self) -> str:
        return f"{self.url}/return"

    def wait_return(self, count: int = 1, timeout: float = 15.0) -> str:
        wait_for(lambda: len(self.returns) >= count, timeout)
        return self.returns[count - 1]


@contextmanager
def application_server() -> Iterator[Application]:
    app = bottle.Bottle()
    got = Application()

    def back() -> str:
        got.returns.append(str(bottle.request.environ.get("QUERY_STRING", "")))
        return RETURN_PAGE

    app.route("/return", "GET", back)
    with serving(app) as url:
        got.url = url
        yield got


@pytest.fixture
def application(emulator: Emulator) -> Iterator[Application]:
    """The application, whose redirect URL the emulator knows."""
    with application_server() as got:
        emulator.redirect_url = got.redirect_url
        yield got


# -------------------------------------------------------------------------------------------------
# The Consent UI, driven like a person


@dataclass
class ConsentUi:
    page: CDP

    def title(self) -> str:
        return self.page.text("#title") or ""

    def wait_title(self, text: str, timeout: float = 15.0) -> None:
        self.page.wait_for(
            f"(t => t && t.textContent === {json.dumps(text)})(document.getElementById('title'))",
            timeout,
        )

    def go(self, url: str) -> None:
        # The page may still be arriving from a redirect: mark it once it has a document.
        self.page.wait_for(
            "document.readyState === 'complete' && !!document.documentElement"
            " && (document.documentElement.setAttribute('data-leaving', ''), true)",
            15,
        )
        self.page.evaluate(f"location.assign({json.dumps(url)})")
        self.page.wait_for(
            "!document.documentElement.hasAttribute('data-leaving')"
            " && document.readyState === 'complete'",
            15,
        )

    def accept(self) -> None:
        self.page.wait_visible("#screen-consent")
        self.page.click("#accept")

    def choose(self, institution_id: str) -> None:
        self.wait_title("Select your bank")
        self.page.click(f'[data-institution-id="{institution_id}"]')

    def log_in(self, login_id: str, password: str) -> None:
        self.page.wait_for("document.activeElement.id === 'loginId'", 10)
        self.page.type("#loginId", login_id)
        self.page.type("#password", password)
        self.page.click("#connect")

    def texts(self, selector: str) -> list[str]:
        found: list[str] = self.page.evaluate(
            f"[...document.querySelectorAll({json.dumps(selector)})].map(e => e.innerText.trim())"
        )
        return found

    def click_away(self, selector: str) -> None:
        """Click a button that leaves the page: once, as the page is gone after it."""
        x, y = self.page.element_center(selector)
        self.page.mouse_click(x, y)

    def confirm(self, dialog: str, button: str, *, leaves: bool = False) -> None:
        self.page.wait_for(f"document.getElementById({json.dumps(dialog)}).open", 5)
        if leaves:
            self.click_away(f"#{button}")
            return
        self.page.click(f"#{button}")
        self.page.wait_for(f"!document.getElementById({json.dumps(dialog)}).open", 5)


def consent_url(emulator: Emulator, **params: str) -> str:
    return f"{emulator.url}/home?{urlencode(params)}"


@pytest.fixture
def consent_ui(open_window: Callable[..., Window]) -> Callable[..., ConsentUi]:
    def start(url: str, **size: int) -> ConsentUi:
        window = open_window(url, page_prefix="http://127.0.0.1", **size)
        ui = ConsentUi(window.cdp)
        ui.page.wait_for("document.readyState === 'complete'", 15)
        return ui

    return start


def returned(query: str) -> dict[str, list[str]]:
    return parse_qs(query, keep_blank_values=True, strict_parsing=bool(query))


def job_ids(api: Api, user_id: str) -> list[tuple[str, str]]:
    """(job id, verify-credentials status) of the user's jobs, oldest first."""
    listed = api.call("GET", f"/users/{user_id}/jobs", api.token()).json()["data"]
    return [(job["id"], step(job, "verify-credentials")["status"]) for job in reversed(listed)]


# -------------------------------------------------------------------------------------------------
# A client written for Basiq 3.0, as Basiq's own starter is: its server holds the API key,
# creates the user and a bound client token and sends the browser to the Consent UI; back on its
# redirect URL, its page reads jobIds and polls the first job with the client token.

STARTER_RETURN = """<!doctype html><html lang="en"><meta charset="utf-8"><title>Connecting</title>
<p id="result">Waiting for your bank…</p>
<script>
  const params = new URLSearchParams(location.search);
  const jobId = (params.get("jobIds") || "").split(",")[0];
  async function poll() {
    const headers = {Authorization: "Bearer " + TOKEN};
    const answer = await fetch(API + "/jobs/" + jobId, {headers});
    const job = await answer.json();
    const done = title => job.steps.some(s => s.title === title && s.status === "success");
    if (done("verify-credentials") && done("retrieve-accounts")) {
      const verify = job.steps.find(s => s.title === "verify-credentials");
      const result = document.getElementById("result");
      result.dataset.connectionId = verify.result.url.split("/").pop();
      result.textContent = "Connected";
      return;
    }
    setTimeout(poll, 200);
  }
  poll();
</script>"""


@dataclass
class Starter:
    """Basiq 3.0's two hosts are the only thing that differs from production."""

    api_url: str
    consent_url: str
    api_key: str
    sessions: dict[str, tuple[str, str]] = field(default_factory=dict)  # state: (user, token)
    returns: list[str] = field(default_factory=list)

    def token(self, **form: str) -> str:
        headers = {"Authorization": f"Basic {self.api_key}", "basiq-version": "3.0"}
        answer = requests.post(f"{self.api_url}/token", headers=headers, data=form, timeout=10)
        answer.raise_for_status()
        return str(answer.json()["access_token"])

    def start(self) -> None:
        server = self.token(scope="SERVER_ACCESS")
        created = requests.post(
            f"{self.api_url}/users",
            json={"email": bottle.request.query.get("email")},
            headers={"Authorization": f"Bearer {server}"},
            timeout=10,
        )
        created.raise_for_status()
        user_id = created.json()["id"]
        client = self.token(scope="CLIENT_ACCESS", userId=user_id)
        state = secrets.token_urlsafe(12) + " &/é"
        self.sessions[state] = (user_id, client)
        query = urlencode({"userId": user_id, "token": client, "action": "connect", "state": state})
        bottle.redirect(f"{self.consent_url}/home?{query}", 302)

    def back(self) -> str:
        self.returns.append(str(bottle.request.environ.get("QUERY_STRING", "")))
        session = self.sessions.get(bottle.request.query.getunicode("state") or "")
        if session is None:
            raise bottle.HTTPError(400, "Unknown state")
        constants = f"<script>const API = {json.dumps(self.api_url)};"
        constants += f" const TOKEN = {json.dumps(session[1])};</script>"
        return STARTER_RETURN.replace("<p id", constants + "<p id", 1)

    def app(self) -> bottle.Bottle:
        app = bottle.Bottle()
        app.route("/start", "GET", self.start)
        app.route("/return", "GET", self.back)
        return app


def test_a_client_written_for_basiq_3_works_unchanged(
    consent_ui: Callable[..., ConsentUi], emulator: Emulator, api: Api
) -> None:
    starter = Starter(api_url=emulator.url, consent_url=emulator.url, api_key=emulator.api_key)
    with serving(starter.app()) as app_url:
        emulator.redirect_url = f"{app_url}/return"
        ui = consent_ui(f"{app_url}/start?email=gavin%40hooli.com")
        ui.wait_title("Share your data with Your application")
        ui.accept()
        ui.choose(HOOLI)
        ui.log_in("gavinBelson", "hooli2016")
        ui.wait_title("Connected")
        ui.click_away("#done")
        connection_id = ui.page.wait_for(
            "(r => r && r.dataset.connectionId)(document.getElementById('result'))", 20
        )
    [(state, (user_id, _))] = starter.sessions.items()
    [query] = starter.returns
    back = returned(query)
    assert back["state"] == [state]
    assert back["jobIds"] == back["jobId"]
    # The client's server reads the connection and its accounts with its server token.
    server = {"Authorization": f"Bearer {starter.token(scope='SERVER_ACCESS')}"}
    connection = requests.get(
        f"{emulator.url}/users/{user_id}/connections/{connection_id}", headers=server, timeout=10
    ).json()
    assert (connection["method"], connection["status"]) == ("web", "active")
    assert connection["institution"]["id"] == HOOLI
    accounts = requests.get(
        f"{emulator.url}/users/{user_id}/accounts",
        params={"filter": f"connection.id.eq('{connection_id}')"},
        headers=server,
        timeout=10,
    ).json()
    assert accounts["data"] and {a["connection"] for a in accounts["data"]} == {connection_id}


def test_mfa_another_bank_a_wrong_password_and_the_redirect(
    consent_ui: Callable[..., ConsentUi], emulator: Emulator, api: Api, application: Application
) -> None:
    emulator.consent_ui.app_name = "Pied Piper Finance"
    person = Person(api)
    state = "a b&c=d/é?"
    ui = consent_ui(consent_url(emulator, token=person.token, userId=person.user_id, state=state))
    ui.wait_title("Share your data with Pied Piper Finance")
    assert (
        ui.page.text("#consent-who")
        == "Pied Piper Finance uses Basiq to collect your banking data."
    )
    scopes = ui.page.evaluate(
        "[...document.querySelectorAll('#permissions > li')].map(l => l.dataset.scope)"
    )
    policy = person.call("GET", "/consent/api/session").json()["policy"]
    assert scopes == [p["scope"] for p in policy["data"]["permissions"]]
    assert ui.texts("#permissions summary") == [
        p["information"]["name"] for p in policy["data"]["permissions"]
    ]
    assert "12 months" in (ui.page.text("#duration") or "")
    ui.accept()

    ui.choose(PIED_PIPER)
    ui.log_in("jared", "django")
    ui.wait_title("Verify it's you")
    [(mfa_job, _)] = job_ids(api, person.user_id)
    challenge = step(person.job(mfa_job), "mfa-challenge")["result"]
    assert ui.page.text("#mfa-description") == challenge["description"]
    assert ui.page.text("label[for='mfa-answer-0']") == challenge["input"][0]
    ui.page.type("#mfa-answer-0", "1234")
    ui.page.press("Enter")
    ui.wait_title("Connected")

    ui.page.click("#another")
    ui.choose(HOOLI)
    ui.log_in("gavinBelson", "not-his-password")
    ui.wait_title("We couldn't connect")
    wrong_job = job_ids(api, person.user_id)[-1][0]
    verify = step(person.job(wrong_job), "verify-credentials")
    assert verify["status"] == "failed"
    assert ui.page.text("#failure-message") == verify["result"]["detail"]
    ui.page.click("#retry")
    ui.page.wait_for("document.activeElement.id === 'password'", 10)
    assert ui.page.evaluate("document.getElementById('loginId').value") == "gavinBelson"
    ui.page.type("#password", "hooli2016")
    ui.page.press("Enter")
    ui.wait_title("Connected")
    assert ui.texts("#connected li") == ["Pied Piper Bank", "Hooli Bank"]
    ui.click_away("#done")

    query = application.wait_return()
    jobs = job_ids(api, person.user_id)
    made = [job for job, status in jobs if status == "success"]
    assert [status for _, status in jobs] == ["success", "failed", "success"]
    # Basiq's documented form: the ids joined by plain commas, then the state as given.
    assert query.split("&")[:2] == [f"jobId={made[0]}", f"jobIds={made[0]},{made[1]}"]
    assert returned(query)["state"] == [state]


def test_open_banking_denied_then_approved(
    consent_ui: Callable[..., ConsentUi], emulator: Emulator, api: Api, application: Application
) -> None:
    person = Person(api)
    ui = consent_ui(
        consent_url(emulator, token=person.token, institutionId=HOOLI_OPEN_BANKING, state="ob")
    )
    ui.accept()
    ui.wait_title("Authorise at Hooli Open Banking")
    assert ui.page.text("#authorise-bank") == "Hooli Bank Open Banking"
    assert "Your application" in (ui.page.text("#authorise-who") or "")
    assert not ui.page.visible("#back"), "a bank chosen by institutionId has no list to go back to"
    ui.page.click("#deny")
    ui.wait_title("We couldn't connect")
    [(denied, status)] = job_ids(api, person.user_id)
    assert status == "failed"
    assert step(person.job(denied), "verify-credentials")["result"] == {
        "code": "authorization-failed",
        "title": "Authorization failed",
        "detail": "access_denied",
    }
    assert "access_denied" in (ui.page.text("#failure-message") or "")
    ui.page.click("#retry")
    ui.wait_title("Authorise at Hooli Open Banking")
    ui.page.click("#approve")
    ui.wait_title("Connected")
    ui.click_away("#done")

    back = returned(application.wait_return())
    approved = job_ids(api, person.user_id)[-1][0]
    assert back == {"jobId": [approved], "jobIds": [approved], "state": ["ob"]}
    connection_id = person.connected(approved)
    server = api.token(version="3.0")
    shown = api.call("GET", f"/users/{person.user_id}/connections/{connection_id}", server).json()
    assert (shown["method"], shown["status"]) == ("openbanking", "active")
    assert shown["expiryDate"] > shown["createdDate"]


def test_declining_and_leaving_go_back_with_the_state_alone(
    consent_ui: Callable[..., ConsentUi], emulator: Emulator, api: Api, application: Application
) -> None:
    person = Person(api)
    ui = consent_ui(consent_url(emulator, token=person.token, state="declined"))
    ui.page.wait_visible("#screen-consent")
    ui.page.click("#decline")
    ui.page.wait_for("document.getElementById('leave-dialog').open", 5)
    assert ui.page.text("#leave-title") == "Are you sure you want to leave?"
    assert ui.page.text("#leave-text") == "You will be taken back to Your application."
    ui.page.press("Escape")  # the same as Stay
    ui.page.wait_for("!document.getElementById('leave-dialog').open", 5)
    assert ui.page.visible("#screen-consent")
    assert application.returns == []
    ui.page.click("#decline")
    ui.confirm("leave-dialog", "leave-confirm", leaves=True)
    assert application.wait_return() == "state=declined"
    assert person.call("GET", f"/users/{person.user_id}/consents").json()["size"] == 0

    # With a consent, `connect` goes straight to the banks; leaving there, with no state given,
    # goes back with no parameters at all.
    person.accept()
    ui.go(consent_url(emulator, token=person.token, action="connect"))
    ui.wait_title("Select your bank")
    ui.page.click("#close")
    ui.confirm("leave-dialog", "leave-confirm", leaves=True)
    assert application.wait_return(2) == ""


def test_manage_deletes_a_connection_then_revokes_the_consent(
    consent_ui: Callable[..., ConsentUi], emulator: Emulator, api: Api, application: Application
) -> None:
    person = Person(api)
    person.accept()
    web = person.connected(person.log_in())
    banked = person.connected(person.authorise())
    ui = consent_ui(consent_url(emulator, token=person.token, action="manage", state="m"))
    ui.wait_title("Manage your consent")
    assert ui.page.evaluate("document.querySelectorAll('#consents [data-consent-id]').length") == 1
    cards = "[...document.querySelectorAll('#connections [data-connection-id]')]"
    assert ui.page.evaluate(f"{cards}.map(c => c.dataset.connectionId)") == [web, banked]
    assert ui.texts("#connections .card-title") == ["Hooli Bank", "Hooli Bank Open Banking"]
    assert ui.texts("#connections .method") == ["Web login", "Open Banking"]

    ui.page.click(f'[data-connection-id="{web}"] [data-action="delete"]')
    assert ui.page.text("#confirm-title") == "Delete Hooli Bank?"
    ui.confirm("confirm-dialog", "confirm-ok")
    ui.page.wait_for(f"{cards}.length === 1", 10)
    server = api.token()
    assert api.call("GET", f"/users/{person.user_id}/connections/{web}", server).status_code == 404
    assert api.call("GET", f"/users/{person.user_id}/connections/{banked}", server).ok

    ui.page.click('#consents [data-action="revoke"]')
    assert "1 connected bank" in (ui.page.text("#confirm-text") or "")
    ui.confirm("confirm-dialog", "confirm-ok")
    ui.page.wait_for("document.querySelector('#consents .status').textContent === 'revoked'", 10)
    assert ui.page.evaluate(f"{cards}.length") == 0
    assert api.call("GET", f"/users/{person.user_id}/connections", server).json()["data"] == []
    [consent] = api.call("GET", f"/users/{person.user_id}/consents", server).json()["data"]
    assert consent["status"] == "revoked"
    ui.click_away("#manage-done")
    assert application.wait_return() == "state=m"


def test_errors_then_the_keyboard_alone_at_320_px_with_no_redirect_url(
    consent_ui: Callable[..., ConsentUi], emulator: Emulator, api: Api
) -> None:
    person, other = Person(api), Person(api, "other@x.co")
    cases = [
        ({}, "This link has no token."),
        ({"token": api.token(version="3.0")}, "The Consent UI needs a CLIENT_ACCESS token"),
        ({"token": "not-a-token"}, "This link's token is not valid."),
        ({"token": person.token, "userId": other.user_id}, "The userId of this link is not"),
        ({"token": person.token, "action": "dance"}, 'The action "dance" is not one of'),
        ({"token": person.token, "action": "extend"}, "There is no active consent to extend."),
        ({"token": person.token, "institutionId": "ZZ99999"}, None),  # after the consent
    ]
    ui: ConsentUi | None = None
    for params, message in cases[:-1]:
        url = consent_url(emulator, **params)
        if ui is None:
            ui = consent_ui(url, width=320, height=640)
        else:
            ui.go(url)
        ui.wait_title("Something went wrong")
        assert (ui.page.text("#error-message") or "").startswith(message or ""), params
        assert ui.page.evaluate(NO_OVERFLOW)
    assert ui is not None
    page = ui.page

    # Basiq's links may hold empty parameters: they count as absent.
    ui.go(f"{emulator.url}/home?&token={person.token}&state=&institutionId=&action=null")
    ui.wait_title("Share your data with Your application")
    assert page.text(".tag") == "EMULATOR" or page.text(".tag") == "Emulator"
    assert page.evaluate(NO_OVERFLOW)
    for _ in range(12):
        if page.evaluate("document.activeElement.id") == "accept":
            break
        page.press("Tab")
    assert page.evaluate("document.activeElement.id") == "accept"
    page.press("Enter")
    ui.wait_title("Select your bank")
    assert page.evaluate(NO_OVERFLOW)
    page.press("Tab")
    assert page.evaluate("document.activeElement.id") == "search"
    page.send("Input.insertText", {"text": "hooli"})
    page.press("Tab")
    assert page.evaluate("document.activeElement.dataset.institutionId") == HOOLI
    page.press("Enter")
    page.wait_for("document.activeElement.id === 'loginId'", 10)
    assert page.evaluate(NO_OVERFLOW)
    page.send("Input.insertText", {"text": "gavinBelson"})
    page.press("Tab")
    page.send("Input.insertText", {"text": "hooli2016"})
    page.press("Enter")
    ui.wait_title("Connected")
    page.wait_for("document.activeElement.id === 'done'", 5)
    page.press("Enter")
    ui.wait_title("All done")
    [(job_id, _)] = job_ids(api, person.user_id)
    assert page.text("#notice-result") == f"?jobId={job_id}&jobIds={job_id}"
    assert "No redirect URL is set" in (page.text("#notice-message") or "")
    assert page.evaluate(NO_OVERFLOW)

    # A preselected bank that does not exist is named, after the consent.
    ui.go(consent_url(emulator, token=person.token, institutionId="ZZ99999"))
    ui.wait_title("Something went wrong")
    assert page.text("#error-message") == "The bank ZZ99999 (institutionId) is not available."
    # Nothing came from anywhere but the emulator.
    origins = page.evaluate(
        "performance.getEntriesByType('resource').map(e => new URL(e.name).origin)"
    )
    assert set(origins) <= {emulator.url}


def test_reauthorise_and_extend_on_the_emulators_clock(
    consent_ui: Callable[..., ConsentUi],
) -> None:
    clock = FakeClock()
    with (
        application_server() as application,
        Emulator(clock=clock, redirect_url=application.redirect_url) as emulator,
    ):
        api = Api(emulator)
        person = Person(api)
        person.accept()
        first = person.authorise()
        advance_until(
            clock, lambda: step_status(person.job(first), "retrieve-transactions") == "success"
        )
        connection_id = person.connected(first)
        path = f"/users/{person.user_id}/connections/{connection_id}"
        before = api.call("GET", path, api.token(version="3.0")).json()["expiryDate"]
        clock.advance(360 * 86400)  # five days before the connection (and consent) stop
        person.renew()

        ui = consent_ui(consent_url(emulator, token=person.token, action="reauthorise", state="r"))
        ui.wait_title("Renew open banking")
        assert ui.texts("#expiring .card-title") == ["Hooli Bank Open Banking"]
        ui.page.click(f'#expiring [data-connection-id="{connection_id}"] button')
        ui.wait_title("Renew sharing at Hooli Open Banking")
        ui.page.click("#approve")
        ui.wait_title("Connecting…")
        clock.advance(10)
        ui.wait_title("Connected")
        ui.click_away("#done")
        [renewal] = [job for job, _ in job_ids(api, person.user_id)]
        assert returned(application.wait_return()) == {
            "jobId": [renewal],
            "jobIds": [renewal],
            "state": ["r"],
        }
        after = api.call("GET", path, api.token(version="3.0")).json()["expiryDate"]
        assert after > before

        ui.go(consent_url(emulator, token=person.token, action="extend"))
        ui.wait_title("Extend your consent")
        assert ui.page.text("#accept") == "Extend"
        ui.page.click("#accept")
        ui.wait_title("Consent extended")
        [consent] = person.call("GET", f"/users/{person.user_id}/consents").json()["data"]
        assert consent["status"] == "active"
        assert consent["expiryDate"] == iso(clock() + 365 * 86400)  # a year from its now
        ui.click_away("#notice-done")
        assert application.wait_return(2) == ""

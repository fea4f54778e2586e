"""The consent flow's rules (app/consent.py), on a real emulator and a real store: the visit's
URL and state, the redirect back checked and recorded, its jobs followed and stored with their
method, the fallback to listing at Basiq, and the bridge calls the page makes.

The Consent UI page itself is played by `Visitor`: the calls its own page makes with the
visit's client token (tests/emulator/people.py).
"""

from __future__ import annotations

import time
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests

from blink_desktop import upstream
from blink_desktop.app import wiring
from blink_desktop.app.bridge import Bridge
from blink_desktop.app.connect import ConnectService
from blink_desktop.app.consent import ConsentFlow, Visit, redirect_url
from blink_desktop.app.store import Store
from blink_desktop.basiq.client import BasiqClient
from blink_desktop.basiq.keyholder import KeyHolder
from blink_desktop.emulator import Emulator, Fault
from blink_desktop.errors import BlinkError, SettingsError, StoreError
from blink_desktop.httpd import Serving
from blink_desktop.server import build_server
from blink_desktop.settings import load_settings
from tests.app.conftest import TOKEN, connect_service
from tests.conftest import Api
from tests.emulator.people import HOOLI_OPEN_BANKING, Person

REDIRECT = "https://app.example.com/basiq/return"


class Visitor(Person):
    """The person in the Consent UI of one visit: its user and its client token."""

    def __init__(self, api: Api, visit: Visit) -> None:
        self.api = api
        query = parse_qs(urlsplit(visit.url).query)
        self.user_id = query["userId"][0]
        self.token = query["token"][0]


@pytest.fixture
def service(emulator: Emulator, store: Store) -> ConnectService:
    client = BasiqClient(emulator.url, version="3.0")
    service = connect_service(emulator, store, client)
    service.consent = ConsentFlow(
        service, store, client, consent_url=f"{emulator.url}/home", redirect_url=REDIRECT
    )
    return service


@pytest.fixture
def flow(service: ConnectService) -> ConsentFlow:
    assert service.consent is not None
    return service.consent


def back(visit: Visit | None = None, *, state: str | None = None, **params: str) -> str:
    """The redirect URL as the Consent UI sends the person back to it."""
    query = dict(params)
    if visit is not None or state is not None:
        query["state"] = state if state is not None else visit.state  # type: ignore[union-attr]
    return f"{REDIRECT}?{urlencode(query)}" if query else REDIRECT


def redirects(store: Store) -> list[dict[str, object]]:
    return [event for event in store.events() if event["event"] == "redirect"]


def test_each_visit_has_a_bound_token_and_a_fresh_state(
    flow: ConsentFlow, emulator: Emulator, api: Api, store: Store
) -> None:
    visit = flow.start()
    url = urlsplit(visit.url)
    assert f"{url.scheme}://{url.netloc}{url.path}" == f"{emulator.url}/home"
    query = parse_qs(url.query)
    assert set(query) == {"token", "userId", "state"}
    assert query["userId"] == [store.basiq_user("gavin@hooli.com")]
    assert query["state"] == [visit.state] and len(visit.state) >= 32
    assert emulator.api_key not in visit.url
    # The token is a 3.0 client token bound to that user: the Consent UI's session accepts it.
    session = Visitor(api, visit).call("GET", "/consent/api/session")
    assert session.status_code == 200, session.text
    again = flow.start("manage")
    assert again.state != visit.state
    assert parse_qs(urlsplit(again.url).query)["action"] == ["manage"]
    # Fix (app.js) is for one of this person's stored connections only (see the Fix test).
    with pytest.raises(BlinkError, match="not one of yours"):
        flow.start("connect", "conn-1")
    # `update` is the consent's, which may revoke it and delete its connections: never a Fix.
    for action in ("update", "manage", "extend"):
        with pytest.raises(BlinkError, match="takes no connection"):
            flow.start(action, "conn-1")
    assert "action" not in parse_qs(urlsplit(flow.start("null").url).query)
    with pytest.raises(BlinkError, match="no action"):
        flow.start("delete-everything")
    with pytest.raises(BlinkError, match="not a connection id"):
        flow.start("connect", "../users")


def test_hooli_through_the_consent_ui_is_stored_with_its_method(
    flow: ConsentFlow, api: Api, store: Store
) -> None:
    visit = flow.start()
    person = Visitor(api, visit)
    person.accept()
    job_id = person.log_in()
    connection_id = person.connected(job_id)
    returned = flow.receive(back(visit, jobId=job_id, jobIds=job_id))
    assert (returned.kind, returned.job_ids) == ("jobs", (job_id,))
    assert store.connections() == []  # the jobs are read once the window shows its page again
    settled = flow.settle(returned)
    assert (settled.job_ids, settled.unreadable, settled.found) == ((job_id,), (), ())
    stored = store.connection(connection_id)
    assert stored is not None
    server = api.token(version="3.0")
    at_basiq = api.call("GET", f"/users/{person.user_id}/connections/{connection_id}", server)
    assert stored.method == at_basiq.json()["method"] == "web"
    assert (stored.status, stored.institution, stored.user_id) == (
        "active",
        "Hooli",
        person.user_id,
    )
    [redirect] = redirects(store)
    assert (redirect["accepted"], redirect["job_id"]) == (True, job_id)
    assert visit.session.token not in str(store.events())
    found = [event for event in store.events() if event["event"] == "found"]
    assert "Consent UI" in str(found[0]["reason"])
    assert flow.last_return(1) == settled


def test_every_job_of_the_visit_is_followed_open_banking_too(
    flow: ConsentFlow, api: Api, store: Store
) -> None:
    visit = flow.start()
    person = Visitor(api, visit)
    person.accept()
    web, banked = person.log_in(), person.authorise(institution=HOOLI_OPEN_BANKING)
    made = {person.connected(web), person.connected(banked)}
    flow.settle(flow.receive(back(visit, jobId=web, jobIds=f"{web},{banked}")))
    assert {c.id for c in store.connections()} == made
    assert sorted(str(c.method) for c in store.connections()) == ["openbanking", "web"]


@pytest.mark.parametrize(
    ("state", "reason"),
    [("forged", "not the one this window sent"), (None, "has no state"), ("", "not the one")],
)
def test_a_state_that_is_not_the_visits_is_refused_and_nothing_is_stored(
    flow: ConsentFlow, api: Api, store: Store, state: str | None, reason: str
) -> None:
    visit = flow.start()
    person = Visitor(api, visit)
    person.accept()
    job_id = person.log_in()
    person.connected(job_id)
    url = back(jobIds=job_id) if state is None else back(state=state, jobIds=job_id)
    returned = flow.settle(flow.receive(url))
    assert returned.kind == "refused" and reason in str(returned.reason)
    assert store.connections() == []
    [refused] = redirects(store)
    assert refused["accepted"] is False and reason in str(refused["reason"])
    # The visit's own way back still counts, once.
    assert flow.settle(flow.receive(back(visit, jobIds=job_id))).kind == "jobs"
    assert len(store.connections()) == 1
    replayed = flow.receive(back(visit, jobIds=job_id))
    assert replayed.kind == "refused" and "no Consent UI visit" in str(replayed.reason)


def test_a_way_back_that_cannot_be_recorded_says_so_at_once(
    flow: ConsentFlow, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    visit = flow.start()

    def full(what: str) -> None:
        raise StoreError(f"The disk is full: {what} was not saved.")

    monkeypatch.setattr(store, "writing", full)
    with pytest.raises(StoreError):
        flow.receive(back(visit))
    # The page asks what came back: the same error, not a wait for a return that never comes.
    started = time.monotonic()
    with pytest.raises(StoreError, match="disk is full"):
        flow.last_return(30)
    assert time.monotonic() - started < 5


def test_no_jobs_is_a_cancellation_and_manage_comes_back_as_such(
    flow: ConsentFlow, store: Store
) -> None:
    visit = flow.start()
    assert flow.settle(flow.receive(back(visit))).kind == "cancelled"
    managing = flow.start("manage")
    managed = flow.settle(flow.receive(back(managing, jobIds="")))
    assert (managed.kind, managed.removed) == ("managed", ())  # the page lists at Basiq
    assert store.connections() == []
    assert [(e["accepted"], e["reason"]) for e in redirects(store)] == [
        (True, "no jobs: the person left (a cancellation)"),
        (True, "back from manage"),
    ]


def test_a_fix_comes_back_to_its_connection_which_is_updated_in_place(
    flow: ConsentFlow, api: Api, store: Store, emulator: Emulator
) -> None:
    visit = flow.start()
    person = Visitor(api, visit)
    person.accept()
    job_id = person.log_in()
    connection_id = person.connected(job_id)
    first = flow.settle(flow.receive(back(visit, jobId=job_id, jobIds=job_id)))
    assert first.connection_id is None  # a new connection's way back names none
    emulator.break_connection(connection_id)
    with store.writing("a refresh that failed") as tx:
        tx.set_status(connection_id, "invalid", "refresh")

    fixing = flow.start("connect", connection_id)
    # As the window asks it: log in again to that connection [consent-parameters].
    query = parse_qs(urlsplit(fixing.url).query)
    assert (query["action"], query["connectionId"]) == (["connect"], [connection_id])
    person = Visitor(api, fixing)
    update = person.start(connectionId=connection_id, loginId="gavinBelson", password="hooli2016")
    assert update.status_code == 202, update.text
    again = update.json()["id"]
    assert person.connected(again) == connection_id
    returned = flow.receive(back(fixing, jobId=again, jobIds=again))
    assert (returned.kind, returned.connection_id) == ("jobs", connection_id)
    settled = flow.settle(returned)
    assert (settled.connections, settled.connection_id) == ((connection_id,), connection_id)
    assert settled.to_json()["connection_id"] == connection_id  # what the page reopens
    [row] = store.connections()
    assert (row.id, row.status) == (connection_id, "active")

    left = flow.start("connect", connection_id)
    cancelled = flow.settle(flow.receive(back(left)))
    assert (cancelled.kind, cancelled.connection_id) == ("cancelled", connection_id)
    assert [event["job_id"] for event in redirects(store)] == [job_id, again, None]


def test_jobs_that_cannot_be_read_fall_back_to_listing_at_basiq(
    flow: ConsentFlow, api: Api, store: Store
) -> None:
    visit = flow.start()
    person = Visitor(api, visit)
    person.accept()
    connection_id = person.connected(person.log_in())
    returned = flow.receive(back(visit, jobIds="not-a-job,<script>"))
    assert returned.unreadable == ("<script>",)
    settled = flow.settle(returned)
    assert settled.job_ids == ()
    assert set(settled.unreadable) == {"not-a-job", "<script>"}
    assert settled.found == (connection_id,)
    assert [c.id for c in store.connections()] == [connection_id]


def test_reconcile_drops_what_basiq_no_longer_lists_but_never_on_an_error(
    flow: ConsentFlow, service: ConnectService, api: Api, store: Store, emulator: Emulator
) -> None:
    visit = flow.start()
    person = Visitor(api, visit)
    person.accept()
    job_id = person.log_in()
    connection_id = person.connected(job_id)
    flow.settle(flow.receive(back(visit, jobIds=job_id)))
    assert person.call("DELETE", f"/users/{person.user_id}/connections/{connection_id}").ok
    emulator.faults.add(Fault(route="GET /users/*/connections", status=500))
    assert service.reconcile().reconciled is False
    assert [c.id for c in store.connections()] == [connection_id]
    emulator.faults.clear()
    assert service.reconcile().reconciled is True
    assert store.connections() == []
    removed = [e for e in store.events() if e["event"] == "removed"]
    assert [e["payload"]["connection"] for e in removed] == [connection_id]


@pytest.mark.parametrize(
    ("url", "caught"),
    [
        (REDIRECT, True),
        (REDIRECT + "?jobIds=a&state=b", True),
        ("HTTPS://App.Example.com:443/basiq/return#x", True),
        ("https://app.example.com/basiq/return/", False),
        ("https://app.example.com/basiq/returns", False),
        ("http://app.example.com/basiq/return", False),
        ("https://app.example.com:8443/basiq/return", False),
        ("https://evil.example/basiq/return?https://app.example.com/basiq/return", False),
        ("https://app.example.com:99999/basiq/return", False),
        ("about:blank", False),
    ],
)
def test_the_redirect_is_its_scheme_host_port_and_path(
    flow: ConsentFlow, url: str, caught: bool
) -> None:
    assert flow.is_redirect(url) is caught


def test_the_redirect_url_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BLINK_DESKTOP_FLOW", "consent")
    assert redirect_url(load_settings(), emulated=True) == upstream.EMULATED_REDIRECT
    with pytest.raises(SettingsError, match="needs BLINK_DESKTOP_REDIRECT_URL"):
        redirect_url(load_settings(), emulated=False)
    monkeypatch.setenv("BLINK_DESKTOP_REDIRECT_URL", REDIRECT)
    assert redirect_url(load_settings(), emulated=False) == REDIRECT


def test_the_bridge_says_the_flow_and_what_came_back(
    service: ConnectService, flow: ConsentFlow, api: Api, store: Store
) -> None:
    bridge = Bridge(service, TOKEN)
    assert bridge.bootstrap(TOKEN)["flow"] == "consent"
    prepared = bridge.prepare_connect(TOKEN, "http://127.0.0.1:5")
    assert (prepared["flow"], prepared["fresh_ms"]) == ("consent", 0)
    assert "access_token" not in prepared  # no Blink is loaded ahead
    started = bridge.start_consent(TOKEN, "manage")
    assert started["ok"] is True and started["action"] == "manage"
    state = parse_qs(urlsplit(started["url"]).query)["state"][0]
    assert bridge.consent_return(TOKEN)["returned"] is None  # nothing came back yet
    flow.settle(flow.receive(back(state=state)))
    reply = bridge.consent_return(TOKEN)
    assert reply["flow"] == "consent" and reply["returned"]["kind"] == "managed"
    again = bridge.consent_return(TOKEN)["returned"]
    assert again == reply["returned"] and again["id"]  # the page shows each id once
    assert bridge.start_consent("wrong-token")["ok"] is False


def test_in_the_blink_flow_the_consent_ui_is_off(emulator: Emulator, tmp_path: Path) -> None:
    store = Store(tmp_path / "blink.db")
    try:
        client = BasiqClient(emulator.url)
        service = ConnectService(
            KeyHolder(client, emulator.api_key),
            client,
            store,
            blink_url=f"{emulator.url}/index.html",
            blink_origin=emulator.url,
            identifier="gavin@hooli.com",
        )
        bridge = Bridge(service, TOKEN)
        assert bridge.bootstrap(TOKEN)["flow"] == "blink"
        refused = bridge.start_consent(TOKEN)
        assert refused["ok"] is False and "BLINK_DESKTOP_FLOW=consent" in refused["error"]
        assert bridge.consent_return(TOKEN) == {
            "ok": True,
            "flow": "blink",
            "returned": None,
            "mode": "basiq",
        }
    finally:
        store.close()


def test_in_emulator_mode_the_app_chooses_the_redirect_and_tells_its_emulator(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("BLINK_DESKTOP_FLOW", "consent")
    monkeypatch.setenv("BLINK_DESKTOP_USER", "gavin@hooli.com")
    built = wiring.build(load_settings())
    try:
        flow = built.service.consent
        assert built.upstream is not None and flow is not None
        assert flow.consent_url == f"{built.upstream.api_url}/home"
        assert flow.redirect_url == upstream.EMULATED_REDIRECT
        visit = flow.start()
        session = requests.get(
            f"{built.upstream.api_url}/consent/api/session",
            headers={"Authorization": f"Bearer {parse_qs(urlsplit(visit.url).query)['token'][0]}"},
            timeout=10,
        )
        assert session.json()["redirectUrl"] == upstream.EMULATED_REDIRECT
    finally:
        built.close()


def test_direct_and_backend_modes_need_your_redirect_url(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("BLINK_DESKTOP_FLOW", "consent")
    monkeypatch.setenv("BLINK_DESKTOP_API_KEY", "abc")
    with pytest.raises(SettingsError, match="BLINK_DESKTOP_REDIRECT_URL"):
        wiring.build(load_settings())
    monkeypatch.setenv("BLINK_DESKTOP_BACKEND_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("BLINK_DESKTOP_CLIENT_ID", "desktop")
    with pytest.raises(SettingsError, match="BLINK_DESKTOP_REDIRECT_URL"):
        wiring.build(load_settings())
    monkeypatch.setenv("BLINK_DESKTOP_REDIRECT_URL", REDIRECT)
    for mode in ("direct", "backend"):
        built = wiring.build(load_settings(provider=mode))
        try:
            assert built.mode == mode and built.service.consent is not None
            assert built.service.consent.consent_url == upstream.BASIQ_CONSENT
            assert built.service.consent.redirect_url == REDIRECT
        finally:
            built.close()


def test_backend_mode_gets_a_token_bound_to_the_user_from_your_server(
    emulator: Emulator, api: Api, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Your server (serve, under basiq-version 3.0) hands out a client token the Consent UI
    accepts: bound to the person's Basiq user."""
    server_settings = load_settings(
        api_key=emulator.api_key, api_url=emulator.url, client_ids=["desktop"], flow="consent"
    )
    assert server_settings.basiq_version == "3.0"
    server = build_server(server_settings, database=tmp_path / "server.sqlite")
    http = Serving(server.app).start()
    try:
        for name, value in {
            "FLOW": "consent",
            "BACKEND_URL": http.url,
            "CLIENT_ID": "desktop",
            "API_URL": emulator.url,
            "CONSENT_URL": f"{emulator.url}/home",
            "REDIRECT_URL": REDIRECT,
            "USER": "gavin@hooli.com",
        }.items():
            monkeypatch.setenv(f"BLINK_DESKTOP_{name}", value)
        built = wiring.build(load_settings())
        try:
            assert built.mode == "backend" and built.service.consent is not None
            visit = built.service.consent.start()
            person = Visitor(api, visit)
            assert person.user_id == server.store.basiq_user("gavin@hooli.com")
            assert person.call("GET", "/consent/api/session").status_code == 200
            person.accept()
            job_id = person.log_in()
            connection_id = person.connected(job_id)
            flow = built.service.consent
            settled = flow.settle(flow.receive(back(visit, jobIds=job_id)))
            assert settled.connections == (connection_id,)  # the job read with the client token
            stored = built.store.connection(connection_id)
            assert stored is not None and stored.method == "web"
            # Manage: the consent revoked there. The app cannot list at Basiq in backend mode:
            # it reads each stored connection with the visit's client token instead.
            assert built.service.lists_connections is False
            managing = flow.start("manage")
            server_token = api.token(version="3.0")
            consents = f"/users/{person.user_id}/consents"
            [consent] = api.call("GET", consents, server_token).json()["data"]
            assert api.call("DELETE", f"{consents}/{consent['id']}", server_token).ok
            managed = flow.settle(flow.receive(back(managing)))
            assert (managed.kind, managed.removed) == ("managed", (connection_id,))
            assert built.store.connections() == []
            removed = [e for e in built.store.events() if e["event"] == "removed"]
            assert [e["payload"]["connection"] for e in removed] == [connection_id]
        finally:
            built.close()
    finally:
        http.stop()
        server.close()

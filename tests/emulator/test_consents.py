"""Consents: made by the first Accept in the Consent UI, one per user for all their connections,
listed and revoked over the API as Basiq 3.0 has them; and what the Consent UI's own calls
allow."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import requests

from blink_desktop.emulator import DEFAULT_API_KEY, Emulator, FakeClock
from tests.conftest import Api, error_of, foreground, step
from tests.emulator.people import HOOLI_OPEN_BANKING, Person

SCOPES = ["account.basic", "account.detail", "transaction.detail", "customer.person.detail"]


def test_the_first_accept_makes_the_consent_in_basiqs_shape(api: Api) -> None:
    person = Person(api)
    assert person.call("GET", f"/users/{person.user_id}/consents").json() == {
        "type": "list",
        "size": 0,
        "data": [],
        "links": {"self": f"{api.url}/users/{person.user_id}/consents"},
    }
    accepted = person.accept()
    listed = api.call("GET", f"/users/{person.user_id}/consents", api.token()).json()
    assert (listed["type"], listed["size"], listed["data"]) == ("list", 1, [accepted])
    assert set(accepted) == {
        "type",
        "id",
        "created",
        "updated",
        "expiryDate",
        "origin",
        "status",
        "purpose",
        "data",
        "links",
    }
    assert accepted["type"] == "consent"
    assert (accepted["origin"], accepted["status"]) == ("user", "active")
    assert accepted["created"] == accepted["updated"] < accepted["expiryDate"]
    assert set(accepted["purpose"]["primary"]) == {"title", "description"}
    data = accepted["data"]
    assert data["retainData"] is False and data["initialRetrievalDays"] == 90
    assert [p["scope"] for p in data["permissions"]] == SCOPES
    for permission in data["permissions"]:
        assert permission["required"] is True and permission["consented"] is True
        assert set(permission["information"]) == {"name", "description", "attributeList"}
        assert permission["information"]["attributeList"]
        assert set(permission["purpose"]) == {"title", "description"}
    policy = accepted["links"]["consentPolicy"]
    assert accepted["links"] == {
        "self": f"{api.url}/users/{person.user_id}/consents/{accepted['id']}",
        "consentPolicy": policy,
        "latestConsentPolicy": policy,
    }
    assert api.call("GET", policy[len(api.url) :]).json()["data"] == data


def test_accepting_again_extends_the_one_consent(clock: FakeClock, capi: Api) -> None:
    person = Person(capi)
    first = person.accept()
    clock.advance(86400)
    person.renew()
    again = person.accept()
    assert again["id"] == first["id"]
    assert again["created"] == first["created"] < again["updated"]
    assert again["expiryDate"] > first["expiryDate"]
    assert person.call("GET", f"/users/{person.user_id}/consents").json()["size"] == 1


def test_a_consent_expires_after_a_year(clock: FakeClock, capi: Api) -> None:
    person = Person(capi)
    person.accept()
    clock.advance(366 * 86400)
    person.renew()
    [consent] = person.call("GET", f"/users/{person.user_id}/consents").json()["data"]
    assert consent["status"] == "expired"
    refused = person.start(loginId="gavinBelson", password="hooli2016")
    assert refused.status_code == 403
    assert "no active consent" in error_of(refused)["detail"]
    assert person.accept()["id"] != consent["id"]  # a new consent, not the expired one


def test_revoking_deletes_every_connection_and_its_data(api: Api) -> None:
    person = Person(api)
    consent = person.accept()
    web = person.connected(person.log_in())
    person.connected(person.authorise())
    server = api.token()
    user = person.user_id
    assert api.call("GET", f"/users/{user}/accounts", server).json()["count"] > 0
    assert api.call("DELETE", f"/users/{user}/consents/{consent['id']}", server).status_code == 204
    [revoked] = api.call("GET", f"/users/{user}/consents", server).json()["data"]
    assert revoked["status"] == "revoked"
    assert revoked["revoked"] >= revoked["created"]
    assert api.call("GET", f"/users/{user}/connections", server).json()["data"] == []
    assert api.call("GET", f"/users/{user}/accounts", server).json()["data"] == []
    assert api.call("GET", f"/users/{user}/transactions", server).json()["data"] == []
    assert api.call("GET", f"/users/{user}/connections/{web}", server).status_code == 404
    # Revoking again changes nothing; an unknown consent is not found.
    assert api.call("DELETE", f"/users/{user}/consents/{consent['id']}", server).status_code == 204
    missing = api.call("DELETE", f"/users/{user}/consents/no-such-consent", server)
    assert missing.status_code == 404
    assert error_of(missing)["code"] == "resource-not-found"
    # A new accept makes a new consent; the revoked one stays in the history.
    person.accept()
    listed = api.call("GET", f"/users/{user}/consents", server).json()["data"]
    assert [c["status"] for c in listed] == ["active", "revoked"]


def test_only_a_server_token_revokes_over_the_api(api: Api) -> None:
    person = Person(api)
    consent = person.accept()
    path = f"/users/{person.user_id}/consents/{consent['id']}"
    assert person.call("DELETE", path).status_code == 403
    # The Consent UI revokes through its own call.
    assert person.call("DELETE", f"/consent/api/consents/{consent['id']}").status_code == 204


def test_the_consent_ui_session_says_what_the_page_shows(api: Api) -> None:
    api.emulator.consent_ui.app_name = "Pied Piper Finance"
    person = Person(api)
    person.accept()
    connection = person.connected(person.log_in())
    pending = person.log_in("jared", "django")  # not made yet: not in the session
    session = person.call("GET", "/consent/api/session").json()
    assert session["userId"] == person.user_id
    assert session["application"] == {"name": "Pied Piper Finance"}
    assert session["redirectUrl"] is None
    assert [p["scope"] for p in session["policy"]["data"]["permissions"]] == SCOPES
    assert session["policy"]["duration"] == {"days": 365}
    assert [c["status"] for c in session["consents"]] == ["active"]
    assert [c["id"] for c in session["connections"]] == [connection]
    person.connected(pending)


def test_the_consent_ui_deletes_one_connection_and_keeps_the_consent(api: Api) -> None:
    person = Person(api)
    person.accept()
    web = person.connected(person.log_in())
    banked = person.connected(person.authorise())
    assert person.call("DELETE", f"/consent/api/connections/{web}").status_code == 204
    session = person.call("GET", "/consent/api/session").json()
    assert [c["id"] for c in session["connections"]] == [banked]
    assert [c["status"] for c in session["consents"]] == ["active"]


@pytest.mark.parametrize(
    ("body", "status", "detail"),
    [
        ({"institution": {"id": "AU00000"}}, 400, "Login ID parameter is required."),
        ({"institution": {"id": "ZZ99999"}}, 400, "Requested institution does not exist."),
        ({"loginId": "a", "password": "b"}, 400, "Institution ID  parameter is required."),
        (
            {"institution": {"id": HOOLI_OPEN_BANKING}, "authorisation": "maybe"},
            400,
            "authorisation must be approved or denied.",
        ),
        (["not", "an", "object"], 400, "Posted connection is not in valid format."),
    ],
)
def test_the_consent_ui_refuses_bad_connections(
    api: Api, body: object, status: int, detail: str
) -> None:
    person = Person(api)
    person.accept()
    response = person.call("POST", "/consent/api/connections", json=body)
    assert response.status_code == status
    assert error_of(response)["detail"] == detail


def test_the_consent_ui_updates_a_web_login_and_renews_open_banking(api: Api) -> None:
    person = Person(api)
    person.accept()
    web = person.connected(person.log_in())
    banked = person.connected(person.authorise())
    update = person.start(connectionId=web, loginId="gavinBelson", password="hooli2016")
    assert update.status_code == 202
    assert person.connected(update.json()["id"]) == web
    renew = person.start(connectionId=banked, authorisation="approved")
    assert person.connected(renew.json()["id"]) == banked
    # Approving again at the same open-banking bank renews that connection too.
    assert person.connected(person.authorise()) == banked
    # A denied renewal fails like a denied first authorisation.
    denied = person.finished(person.start(connectionId=banked, authorisation="denied").json()["id"])
    assert step(denied, "verify-credentials")["result"]["detail"] == "access_denied"


def test_an_emulator_state_file_from_before_consents_is_brought_up_to_date(tmp_path: Path) -> None:
    state = tmp_path / "emulator.sqlite"
    with Emulator(state_path=state, job_speed=25) as emulator:
        api = Api(emulator)
        user = api.user()
        connection = api.connected(user)
    db = sqlite3.connect(state)  # as the release before method and expiry wrote the file
    db.execute("ALTER TABLE connections DROP COLUMN method")
    db.execute("ALTER TABLE connections DROP COLUMN expires")
    db.commit()
    db.close()
    with Emulator(state_path=state, job_speed=25) as emulator:
        api = Api(emulator)
        shown = api.call("GET", f"/users/{user}/connections", api.token(version="3.0")).json()
        assert [(c["id"], c["method"]) for c in shown["data"]] == [(connection, "web")]
        person = Person(api)
        person.accept()
        person.connected(person.authorise())


def cli_emulator(*args: str) -> Any:
    return foreground(sys.executable, "-m", "blink_desktop", "emulator", *args)


def test_the_emulator_command_takes_a_redirect_url_and_an_app_name() -> None:
    with cli_emulator(
        "--redirect-url", "https://app.example/back", "--app-name", "Pied Piper Finance"
    ) as (process, url):
        key = {"Authorization": f"Basic {DEFAULT_API_KEY}", "basiq-version": "3.0"}
        server = requests.post(f"{url}/token", headers=key, timeout=10).json()["access_token"]
        bearer = {"Authorization": f"Bearer {server}"}
        user = requests.post(
            f"{url}/users", json={"email": "a@b.co"}, headers=bearer, timeout=10
        ).json()["id"]
        form = {"scope": "CLIENT_ACCESS", "userId": user}
        client = requests.post(f"{url}/token", headers=key, data=form, timeout=10).json()
        session = requests.get(
            f"{url}/consent/api/session",
            headers={"Authorization": f"Bearer {client['access_token']}"},
            timeout=10,
        ).json()
        assert session["redirectUrl"] == "https://app.example/back"
        assert session["application"] == {"name": "Pied Piper Finance"}
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=10)
    assert f"Consent UI: {url}/home" in err
    assert "Redirect URL: https://app.example/back" in err


def test_the_emulator_command_explains_a_bad_redirect_url() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "blink_desktop", "emulator", "--redirect-url", "javascript:x"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert "--redirect-url" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "url", ["javascript:alert(1)", "not a url", "https://", "data:text/html,x"]
)
def test_a_bad_redirect_url_is_refused(url: str) -> None:
    with pytest.raises(ValueError, match="redirect URL"):
        Emulator(redirect_url=url)


@pytest.mark.parametrize("url", ["https://app.example/back?x=1", "myapp://basiq/return"])
def test_a_redirect_url_may_be_set_while_running(url: str) -> None:
    with Emulator() as emulator:
        assert emulator.redirect_url is None
        emulator.redirect_url = url
        assert emulator.consent_ui.redirect_url == url
        with pytest.raises(ValueError):
            emulator.redirect_url = "javascript:alert(1)"
        assert emulator.redirect_url == url

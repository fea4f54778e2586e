"""basiq-version 3.0: no connections through the API, 3.0's shapes, and what a client token bound
to its user may do from a browser, as Basiq's own 3.0 starter does. Versions before 3.0 answer
as they always did (the other tests of this folder)."""

from __future__ import annotations

from typing import Any

import pytest

from blink_desktop.emulator import FakeClock
from tests.conftest import Api, error_of, step, step_status
from tests.emulator.conftest import advance_until
from tests.emulator.people import HOOLI, HOOLI_OPEN_BANKING, PIED_PIPER, Person

CREDENTIALS = {"loginId": "gavinBelson", "password": "hooli2016", "institution": {"id": HOOLI}}


@pytest.mark.parametrize("scope", ["SERVER_ACCESS", "CLIENT_ACCESS"])
def test_posting_credentials_under_3_0_is_refused_with_the_way_to_the_consent_ui(
    api: Api, scope: str
) -> None:
    user = api.user()
    token = api.token(scope, "3.0", user_id=user if scope == "CLIENT_ACCESS" else None)
    created = api.call("POST", f"/users/{user}/connections", token, json=CREDENTIALS)
    assert created.status_code == 403
    error = error_of(created)
    assert error["code"] == "forbidden-access"
    assert "Consent UI" in error["detail"]
    assert f"{api.url}/home?token=" in error["detail"]
    connection = api.connected(user)  # made the 2.x way, to try the credential update on
    updated = api.call(
        "POST", f"/users/{user}/connections/{connection}", token, json={"password": "hooli2016"}
    )
    assert updated.status_code == 403
    assert error_of(updated)["detail"] == error["detail"]
    assert api.call("GET", f"/users/{user}/connections", api.token()).json()["count"] == 1


def test_the_same_credentials_under_2_1_still_connect(api: Api) -> None:
    user = api.user()
    response = api.connect(user, token=api.token("CLIENT_ACCESS", "2.1"))
    assert response.status_code == 202


def test_open_banking_banks_connect_only_through_the_consent_ui(api: Api) -> None:
    response = api.connect(api.user(), institution=HOOLI_OPEN_BANKING, token=api.token())
    assert response.status_code == 400
    assert "open banking" in error_of(response)["detail"]


def test_a_3_0_connection_has_method_status_and_dates(api: Api) -> None:
    person = Person(api)
    person.accept()
    web = person.connected(person.log_in())
    banked = person.connected(person.authorise())
    server = api.token(version="3.0")
    shown = {
        c["id"]: c
        for c in api.call("GET", f"/users/{person.user_id}/connections", server).json()["data"]
    }
    assert shown[web]["method"] == "web"
    assert "expiryDate" not in shown[web]
    assert shown[banked]["method"] == "openbanking"
    assert shown[banked]["institution"]["id"] == HOOLI_OPEN_BANKING
    for connection in shown.values():
        assert connection["status"] == "active"
        assert connection["createdDate"].endswith("Z") and connection["lastUsed"].endswith("Z")
    assert shown[banked]["expiryDate"] > shown[banked]["lastUsed"]
    one = api.call("GET", f"/users/{person.user_id}/connections/{banked}", server).json()
    assert (one["method"], one["expiryDate"]) == ("openbanking", shown[banked]["expiryDate"])
    assert one["accounts"]["type"] == "list" and one["accounts"]["data"]
    assert one["links"]["user"] == f"{api.url}/users/{person.user_id}"
    # The same connection under 2.0 keeps 2.0's shape.
    old = api.call("GET", f"/users/{person.user_id}/connections/{banked}", api.token()).json()
    assert "method" not in old and "expiryDate" not in old


def test_a_3_0_job_links_its_source_only_once_the_connection_exists(
    clock: FakeClock, capi: Api
) -> None:
    person = Person(capi)
    person.accept()
    job_id = person.log_in()
    first = person.job(job_id)
    assert first["jobType"] == "connection"
    assert set(first["links"]) == {"self"}

    def linked() -> dict[str, Any] | None:
        job = person.job(job_id)
        return job if "source" in job["links"] else None

    job = advance_until(clock, linked)
    verify = step(job, "verify-credentials")
    assert verify["status"] == "success"
    assert job["links"]["source"] == capi.url + verify["result"]["url"]
    # A 2.x reader of the same job sees 2.x's shape: the source all along, and no jobType.
    old = capi.job(job_id, capi.token())
    assert "jobType" not in old and "source" in old["links"]


def test_a_denied_open_banking_authorisation_fails_verify_credentials(api: Api) -> None:
    person = Person(api)
    person.accept()
    job = person.finished(person.authorise(approved=False))
    assert step(job, "verify-credentials") == {
        "title": "verify-credentials",
        "status": "failed",
        "result": {
            "code": "authorization-failed",
            "title": "Authorization failed",
            "detail": "access_denied",
        },
    }
    assert "source" not in job["links"]
    listed = api.call("GET", f"/users/{person.user_id}/connections", api.token()).json()
    assert listed["data"] == []


def test_a_bound_3_0_client_token_does_what_basiqs_starter_does_for_its_own_user(
    api: Api,
) -> None:
    me, them = Person(api, "me@x.co"), Person(api, "them@x.co")
    for person in (me, them):
        person.accept()
    my_job, their_job = me.log_in(), them.log_in()
    mine, theirs = me.connected(my_job), them.connected(their_job)
    assert me.call("GET", f"/jobs/{my_job}").status_code == 200
    consents = me.call("GET", f"/users/{me.user_id}/consents")
    assert consents.status_code == 200 and consents.json()["size"] == 1
    refused = [
        ("GET", f"/jobs/{their_job}"),
        ("GET", f"/users/{them.user_id}/consents"),
        ("DELETE", f"/users/{them.user_id}/connections/{theirs}"),
        ("DELETE", f"/users/{them.user_id}"),
    ]
    for method, path in refused:
        response = me.call(method, path)
        assert response.status_code == 401, (method, path)
        assert error_of(response)["code"] == "unauthorized-access"
    assert me.call("DELETE", f"/users/{me.user_id}/connections/{mine}").status_code == 204
    assert me.call("DELETE", f"/users/{me.user_id}").status_code == 204
    assert api.call("GET", f"/users/{me.user_id}", api.token()).status_code == 404
    assert api.call("GET", f"/users/{them.user_id}/connections/{theirs}", api.token()).ok


def test_a_bound_3_0_client_token_answers_mfa_for_its_own_user(api: Api) -> None:
    me, them = Person(api, "me@x.co"), Person(api, "them@x.co")
    for person in (me, them):
        person.accept()
    job_id = me.log_in("jared", "django", PIED_PIPER)
    api.wait_job(job_id, "mfa-challenge", "in-progress")
    answer = {"mfa-response": ["1234"]}
    assert them.call("POST", f"/jobs/{job_id}/mfa", json=answer).status_code == 401
    assert me.call("POST", f"/jobs/{job_id}/mfa", json=answer).status_code == 202
    assert step_status(me.finished(job_id), "verify-credentials") == "success"


@pytest.mark.parametrize("version", ["2.0", "2.1"])
def test_client_tokens_before_3_0_keep_their_old_limits(api: Api, version: str) -> None:
    user = api.user()
    connection = api.connected(user)
    client = api.token("CLIENT_ACCESS", version, user_id=user)
    for method, path in (
        ("GET", f"/users/{user}/consents"),
        ("DELETE", f"/users/{user}/connections/{connection}"),
        ("DELETE", f"/users/{user}"),
    ):
        response = api.call(method, path, client)
        assert response.status_code == 403, (method, path)
        assert error_of(response)["code"] == "forbidden-access"


def test_an_unbound_client_token_cannot_open_the_consent_ui(api: Api) -> None:
    for token in (api.token("CLIENT_ACCESS", "2.1"), api.token(version="3.0")):
        response = api.call("GET", "/consent/api/session", token)
        assert response.status_code == 403
        assert "bound to a user" in error_of(response)["detail"]

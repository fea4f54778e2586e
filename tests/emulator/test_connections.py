"""Connections and their jobs, as a client of the real Basiq API uses them (rules.py, views.py)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Api, error_of, step, wait_for


def test_connect_hooli_like_any_basiq_client(api: Api) -> None:
    user = api.user()
    created = api.connect(user)
    assert created.status_code == 202
    stub = created.json()
    assert set(stub) == {"type", "id", "links"}
    assert stub["links"]["self"] == f"{api.url}/jobs/{stub['id']}"
    first = api.job(stub["id"])
    assert [s["title"] for s in first["steps"]] == [
        "verify-credentials",
        "retrieve-accounts",
        "retrieve-transactions",
    ]
    assert step(first, "retrieve-transactions") == {
        "title": "retrieve-transactions",
        "status": "pending",
        "result": None,
    }
    job = api.wait_job(stub["id"], "retrieve-transactions", "success")
    connection_id = job["links"]["source"].rsplit("/", 1)[1]
    verify = step(job, "verify-credentials")["result"]
    assert verify == {"type": "link", "url": f"/users/{user}/connections/{connection_id}"}
    assert step(job, "retrieve-accounts")["result"]["url"] == (
        f"/users/{user}/accounts?filter=institution.id.eq('AU00000')"
    )
    connection = api.call("GET", f"/users/{user}/connections/{connection_id}", api.token()).json()
    assert connection["status"] == "active"
    assert connection["institution"]["id"] == "AU00000"
    assert connection["profile"]["fullName"] == "Gavin Belson"
    assert len(connection["accounts"]["data"]) >= 2
    listed = api.call("GET", f"/users/{user}/connections", api.token()).json()
    assert [c["id"] for c in listed["data"]] == [connection_id]
    user_view = api.call("GET", f"/users/{user}", api.token()).json()
    assert user_view["connections"]["count"] == 1
    assert user_view["accounts"]["count"] == len(connection["accounts"]["data"])


def test_client_token_sees_connection_without_server_only_fields(api: Api) -> None:
    user = api.user()
    connection = api.connected(user)
    shown = api.call("GET", f"/users/{user}/connections/{connection}", api.token("CLIENT_ACCESS"))
    assert shown.status_code == 200
    assert {"status", "createdDate", "lastUsed"}.isdisjoint(shown.json())


@pytest.mark.parametrize(
    ("login", "password", "code"),
    [
        ("gavinBelson", "wrong", "invalid-credentials"),
        ("nobody", "hooli2016", "invalid-credentials"),
        ("bighead", "password", "invalid-credentials"),
        ("erlich", "aviato", "account-not-accessible-requires-user-action"),
        ("jianYang", "nothotdog", "service-unavailable"),
    ],
)
def test_unhappy_test_users_fail_verify_credentials(
    api: Api, login: str, password: str, code: str
) -> None:
    user = api.user()
    job_id = api.connect(user, login=login, password=password).json()["id"]
    job = api.wait_job(job_id, "verify-credentials", "failed")
    result = step(job, "verify-credentials")["result"]
    assert result["code"] == code
    assert result["title"] and result["detail"]
    assert [s["status"] for s in job["steps"][1:]] == ["pending", "pending"]
    listed = api.call("GET", f"/users/{user}/connections", api.token()).json()
    assert listed["data"] == []  # a failed first login leaves no connection behind


def test_locked_account_says_so(api: Api) -> None:
    job_id = api.connect(api.user(), login="bighead", password="password").json()["id"]
    result = step(api.wait_job(job_id, "verify-credentials", "failed"), "verify-credentials")
    assert "locked" in result["result"]["detail"].lower()


def test_same_login_again_is_resource_already_exists(api: Api) -> None:
    user = api.user()
    api.connected(user)
    again = api.connect(user)
    assert again.status_code == 409
    error = error_of(again)
    assert (error["code"], error["title"]) == ("resource-already-exists", "Resource already exists")
    other_user = api.user("other@x.co")
    assert api.connect(other_user).status_code == 202
    assert api.connect(user, login="jared", password="django").status_code == 202


def test_a_wrong_password_for_a_connected_login_fails_as_a_wrong_password(api: Api) -> None:
    # A bank checks the password before anything else: "you have already connected with the
    # supplied credentials" was false for credentials the bank would refuse (issue 11, 25).
    user = api.user()
    connection = api.connected(user)
    again = api.connect(user, password="not-the-password")
    assert again.status_code == 202, again.text
    job = api.wait_job(again.json()["id"], "verify-credentials", "failed")
    assert step(job, "verify-credentials")["result"]["code"] == "invalid-credentials"
    listed = api.call("GET", f"/users/{user}/connections", api.token()).json()
    assert [(c["id"], c["status"]) for c in listed["data"]] == [(connection, "active")]
    assert api.connect(user).status_code == 409  # the right password is still the duplicate


@pytest.mark.parametrize(
    ("body", "status", "code", "detail"),
    [
        (
            {"loginId": "a", "password": "b"},
            400,
            "parameter-not-supplied",
            "Institution ID  parameter is required.",
        ),
        (
            {"password": "b", "institution": {"id": "AU00000"}},
            400,
            "parameter-not-supplied",
            "Login ID parameter is required.",
        ),
        (
            {"loginId": "a", "institution": {"id": "AU00000"}},
            400,
            "parameter-not-supplied",
            "Password parameter is required.",
        ),
        (
            {"loginId": "a", "password": "b", "institution": {"id": "ZZ99999"}},
            400,
            "parameter-not-valid",
            "Requested institution does not exist.",
        ),
        (
            {"loginId": 5, "password": "b", "institution": {"id": "AU00000"}},
            400,
            "parameter-not-valid",
            "Posted connection is not in valid format.",
        ),
        ("just a string", 400, "parameter-not-valid", "Posted connection is not in valid format."),
    ],
)
def test_connection_validation(api: Api, body: Any, status: int, code: str, detail: str) -> None:
    response = api.call(
        "POST", f"/users/{api.user()}/connections", api.token("CLIENT_ACCESS"), json=body
    )
    assert response.status_code == status
    error = error_of(response)
    assert (error["code"], error["detail"]) == (code, detail)


def test_unknown_ids_get_404(api: Api) -> None:
    user = api.user()
    server = api.token()
    for path in (
        "/users/nope",
        f"/users/{user}/connections/nope",
        "/jobs/nope",
        f"/users/{user}/accounts/nope",
        f"/users/{user}/transactions/nope",
        "/institutions/ZZ00000",
    ):
        response = api.call("GET", path, server)
        assert response.status_code == 404, path
        assert error_of(response)["code"] == "resource-not-found"


def test_update_with_wrong_password_makes_the_connection_invalid_then_right_one_fixes_it(
    api: Api,
) -> None:
    user = api.user()
    connection = api.connected(user)
    path = f"/users/{user}/connections/{connection}"
    client = api.token("CLIENT_ACCESS")
    body = {"loginId": "gavinBelson", "password": "nope", "institution": {"id": "AU00000"}}
    failed = api.call("POST", path, client, json=body)
    assert failed.status_code == 202
    api.wait_job(failed.json()["id"], "verify-credentials", "failed")
    assert api.call("GET", path, api.token()).json()["status"] == "invalid"
    refresh = api.call("POST", f"{path}/refresh", api.token())
    assert refresh.status_code == 202
    api.wait_job(refresh.json()["id"], "verify-credentials", "failed")
    fixed = api.call("POST", path, client, json={**body, "password": "hooli2016"})
    api.wait_job(fixed.json()["id"], "retrieve-transactions", "success")
    assert api.call("GET", path, api.token()).json()["status"] == "active"


def test_update_cannot_move_a_connection_to_another_institution(api: Api) -> None:
    user = api.user()
    connection = api.connected(user)
    body = {"loginId": "gavinBelson", "password": "hooli2016", "institution": {"id": "AU00001"}}
    response = api.call("POST", f"/users/{user}/connections/{connection}", api.token(), json=body)
    assert response.status_code == 400


def test_refresh_one_and_all_delete_and_jobs_list(api: Api) -> None:
    user = api.user()
    first = api.connected(user)
    second = api.connected(user, login="jared", password="django")
    server = api.token()
    one = api.call("POST", f"/users/{user}/connections/{first}/refresh", server)
    assert one.status_code == 202
    assert one.json()["type"] == "job"
    api.wait_job(one.json()["id"], "retrieve-transactions", "success")
    every = api.call("POST", f"/users/{user}/connections/refresh", server)
    assert every.status_code == 202
    assert every.json()["type"] == "list"
    assert len(every.json()["data"]) == 2
    jobs = api.call("GET", f"/users/{user}/jobs", server).json()
    assert len(jobs["data"]) == 5
    assert api.call("DELETE", f"/users/{user}/connections/{second}", server).status_code == 204
    assert api.call("DELETE", f"/users/{user}/connections/{second}", server).status_code == 404
    listed = api.call("GET", f"/users/{user}/connections", server).json()
    assert [c["id"] for c in listed["data"]] == [first]


def test_connections_list_filters(api: Api) -> None:
    user = api.user()
    hooli = api.connected(user)
    api.connected(user, login="jared", password="django", institution="AU00001")
    server = api.token()
    shown = api.call(
        "GET",
        f"/users/{user}/connections",
        server,
        params={"filter": "institution.id.eq('AU00000')"},
    ).json()
    assert [c["id"] for c in shown["data"]] == [hooli]


def test_a_real_basiq_client_lifecycle_end_to_end(api: Api) -> None:
    """Token, user, Hooli connection, poll, read, accounts, transactions, refresh, delete."""
    http, url = api.http, api.url
    token = http.post(
        f"{url}/token",
        headers={
            "Authorization": f"Basic {api.emulator.api_key}",
            "basiq-version": "2.0",
            "Content-Type": "application/x-www-form-urlencoded",
        },
        data="scope=SERVER_ACCESS",
        timeout=10,
    ).json()["access_token"]
    auth = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    user = http.post(
        f"{url}/users", headers=auth, json={"email": "max@hooli.com"}, timeout=10
    ).json()
    job = http.post(
        user["links"]["self"] + "/connections",
        headers=auth,
        timeout=10,
        json={"loginId": "gavinBelson", "password": "hooli2016", "institution": {"id": "AU00000"}},
    ).json()

    def job_done() -> dict[str, Any] | None:
        current = http.get(job["links"]["self"], headers=auth, timeout=10).json()
        return current if all(s["status"] == "success" for s in current["steps"]) else None

    finished = wait_for(job_done)
    connection = http.get(finished["links"]["source"], headers=auth, timeout=10).json()
    assert connection["status"] == "active"
    accounts = http.get(connection["links"]["accounts"], headers=auth, timeout=10).json()["data"]
    transactions = http.get(connection["links"]["transactions"], headers=auth, timeout=10).json()
    assert accounts and transactions["data"]
    refreshed = http.post(connection["links"]["self"] + "/refresh", headers=auth, timeout=10)
    assert refreshed.status_code == 202
    assert http.delete(connection["links"]["self"], headers=auth, timeout=10).status_code == 204

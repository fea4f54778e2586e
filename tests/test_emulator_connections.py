"""Users, connections, jobs and MFA, as a client of the real Basiq API uses them."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Api, error_of, step, step_status, wait_for


def test_user_lifecycle(api: Api) -> None:
    server = api.token()
    created = api.call(
        "POST", "/users", server, json={"email": "gavin@hooli.com", "mobile": "+61410888666"}
    )
    assert created.status_code == 201
    user = created.json()
    assert user["type"] == "user"
    assert user["links"]["self"] == f"{api.url}/users/{user['id']}"
    shown = api.call("GET", f"/users/{user['id']}", server).json()
    assert (shown["email"], shown["mobile"], shown["name"]) == (
        "gavin@hooli.com",
        "+61410888666",
        "",
    )
    assert shown["connections"] == {"type": "list", "count": 0, "data": []}
    assert shown["links"]["auth_link"] is None
    updated = api.call("POST", f"/users/{user['id']}", server, json={"mobile": "+61400000001"})
    assert updated.status_code == 200
    assert updated.json()["mobile"] == "+61400000001"
    assert updated.json()["email"] == "gavin@hooli.com"
    assert api.call("DELETE", f"/users/{user['id']}", server).status_code == 204
    missing = api.call("GET", f"/users/{user['id']}", server)
    assert missing.status_code == 404
    assert error_of(missing)["detail"] == "Requested user does not exist."


@pytest.mark.parametrize(
    ("body", "status", "detail"),
    [
        ({}, 400, "One of 'email' or 'mobile' is required."),
        ({"email": "not-an-email"}, 400, "Provided email is in bad format."),
        ({"mobile": "call me"}, 400, "Provided mobile is in bad format."),
        ({"email": 42}, 400, "Posted user is not in valid format."),
        ([1, 2], 400, "Posted user is not in valid format."),
    ],
)
def test_user_validation(api: Api, body: Any, status: int, detail: str) -> None:
    response = api.call("POST", "/users", api.token(), json=body)
    assert response.status_code == status
    assert error_of(response)["detail"] == detail


def test_version_3_names_are_kept(api: Api) -> None:
    body = {"email": "a@b.co", "firstName": "Gavin", "lastName": "Belson"}
    user = api.call("POST", "/users", api.token(), json=body).json()
    shown = api.call("GET", f"/users/{user['id']}", api.token()).json()
    assert (shown["firstName"], shown["lastName"]) == ("Gavin", "Belson")


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


def test_steps_move_through_pending_and_in_progress(api: Api) -> None:
    user = api.user()
    job_id = api.connect(user).json()["id"]
    seen: set[tuple[str, str]] = set()

    def finished() -> bool:
        job = api.job(job_id)
        seen.update((s["title"], s["status"]) for s in job["steps"])
        return step_status(job, "retrieve-transactions") == "success"

    wait_for(finished, interval=0.005)
    assert ("verify-credentials", "in-progress") in seen
    assert ("retrieve-accounts", "pending") in seen
    assert ("retrieve-accounts", "in-progress") in seen


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


def mfa_connect(
    api: Api, login: str = "gavinBelson", password: str = "hooli2016", institution: str = "AU00002"
) -> tuple[str, str]:
    user = api.user()
    client = api.token("CLIENT_ACCESS", "2.1")
    response = api.connect(user, login, password, institution, token=client)
    assert response.status_code == 202, response.text
    return response.json()["id"], client


@pytest.mark.parametrize(
    ("login", "password", "answer", "method"),
    [
        ("gavinBelson", "hooli2016", ["Hooli"], "security-questions"),
        ("jared", "django", ["1234"], "token"),
        ("Whistler", "ShowBox", ["Basiq", "AU00000"], "security-questions"),
    ],
)
def test_mfa_challenge_answered_right(
    api: Api, login: str, password: str, answer: list[str], method: str
) -> None:
    job_id, client = mfa_connect(api, login, password)
    job = api.wait_job(job_id, "mfa-challenge", "in-progress")
    assert [s["title"] for s in job["steps"]] == [
        "verify-credentials",
        "mfa-challenge",
        "retrieve-accounts",
        "retrieve-transactions",
    ]
    assert step_status(job, "verify-credentials") == "in-progress"
    challenge = step(job, "mfa-challenge")["result"]
    assert challenge["type"] == "mfa"
    assert challenge["method"] == method
    assert len(challenge["input"]) == len(answer)
    assert challenge["expiryMs"] > 0
    assert challenge["links"]["response"] == f"{api.url}/jobs/{job_id}/mfa"
    answered = api.call("POST", f"/jobs/{job_id}/mfa", client, json={"mfa-response": answer})
    assert answered.status_code == 202
    assert answered.json()["id"] == job_id
    done = api.wait_job(job_id, "retrieve-transactions", "success")
    assert step_status(done, "mfa-challenge") == "success"
    assert step_status(done, "verify-credentials") == "success"


def test_mfa_wrong_answer_fails_the_login(api: Api) -> None:
    job_id, client = mfa_connect(api)
    api.wait_job(job_id, "mfa-challenge", "in-progress")
    api.call("POST", f"/jobs/{job_id}/mfa", client, json={"mfa-response": ["Google"]})
    job = api.wait_job(job_id, "verify-credentials", "failed")
    assert step_status(job, "mfa-challenge") == "failed"
    assert step(job, "verify-credentials")["result"]["code"] == "invalid-credentials"
    again = api.call("POST", f"/jobs/{job_id}/mfa", client, json={"mfa-response": ["Hooli"]})
    assert again.status_code == 400


@pytest.mark.parametrize("body", [{}, {"mfa-response": "Hooli"}, {"mfa-response": [1]}, []])
def test_mfa_malformed_answers(api: Api, body: Any) -> None:
    job_id, client = mfa_connect(api)
    api.wait_job(job_id, "mfa-challenge", "in-progress")
    assert api.call("POST", f"/jobs/{job_id}/mfa", client, json=body).status_code == 400
    assert step_status(api.job(job_id), "mfa-challenge") == "in-progress"


def test_mfa_bank_needs_a_version_2_1_token(api: Api) -> None:
    user = api.user()
    response = api.connect(user, institution="AU00002", token=api.token("CLIENT_ACCESS", "2.0"))
    assert response.status_code == 400
    assert "2.1" in error_of(response)["detail"]
    assert api.call("GET", f"/users/{user}/connections", api.token()).json()["data"] == []


def test_nucleus_asks_on_alternate_attempts(api: Api) -> None:
    user = api.user()
    client = api.token("CLIENT_ACCESS", "2.1")
    first = api.connect(user, institution="AU00003", token=client).json()["id"]
    api.wait_job(first, "mfa-challenge", "in-progress")
    second = api.connect(user, "jared", "django", "AU00003", token=client).json()["id"]
    job = api.wait_job(second, "retrieve-transactions", "success")
    assert step_status(job, "mfa-challenge") == "skipped"


def test_wrong_password_at_an_mfa_bank_fails_before_any_challenge(api: Api) -> None:
    job_id, _ = mfa_connect(api, password="nope")
    job = api.wait_job(job_id, "verify-credentials", "failed")
    assert step_status(job, "mfa-challenge") == "pending"


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

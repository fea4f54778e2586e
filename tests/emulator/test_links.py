"""links.py: every URL in an answer, from the one base URL: the emulator's own."""

from __future__ import annotations

from blink_desktop.emulator.links import Links
from tests.conftest import Api

BASE = "http://127.0.0.1:8123"


def test_resource_urls_hang_off_the_base() -> None:
    links = Links(BASE)
    assert links.user("u1") == f"{BASE}/users/u1"
    assert links.connections("u1") == f"{BASE}/users/u1/connections"
    assert links.connection("u1", "c1") == f"{BASE}/users/u1/connections/c1"
    assert links.accounts("u1") == f"{BASE}/users/u1/accounts"
    assert links.account("u1", "a1") == f"{BASE}/users/u1/accounts/a1"
    assert links.transactions("u1") == f"{BASE}/users/u1/transactions"
    assert links.transaction("u1", "t1") == f"{BASE}/users/u1/transactions/t1"
    assert links.jobs("u1") == f"{BASE}/users/u1/jobs"
    assert links.job("j1") == f"{BASE}/jobs/j1"
    assert links.mfa("j1") == f"{BASE}/jobs/j1/mfa"
    assert links.institutions() == f"{BASE}/institutions"
    assert links.institution("AU00000") == f"{BASE}/institutions/AU00000"
    assert links.logo("AU00000") == f"{BASE}/logos/AU00000.svg"
    assert links.logo("AU00000", full=True) == f"{BASE}/logos/AU00000-full.svg"


def test_filters_ride_along_unencoded_as_basiq_writes_them() -> None:
    links = Links(BASE)
    assert links.accounts("u1", "connection.id.eq('c1')") == (
        f"{BASE}/users/u1/accounts?filter=connection.id.eq('c1')"
    )
    assert links.transactions("u1", "account.id.eq('a1')") == (
        f"{BASE}/users/u1/transactions?filter=account.id.eq('a1')"
    )


def test_job_steps_link_relative_paths_and_the_absolute_mfa_answer() -> None:
    job = {"id": "j1", "user_id": "u1", "connection_id": "c1", "institution_id": "AU00002"}
    assert Links(BASE).job_results(job) == {
        "connection": "/users/u1/connections/c1",
        "accounts": "/users/u1/accounts?filter=institution.id.eq('AU00002')",
        "transactions": "/users/u1/transactions?filter=institution.id.eq('AU00002')",
        "mfa": f"{BASE}/jobs/j1/mfa",
    }
    assert Links(BASE).relative == Links("")


def test_answers_link_to_the_emulators_own_address_whatever_the_request_claims(api: Api) -> None:
    # Host and X-Forwarded-* are the client's to write: an emulator that copied them into its
    # links would send every client that follows one wherever the request said (issue 11, 24).
    for headers in (
        {},
        {"Host": "blink.example:8080"},
        {"X-Forwarded-Host": "evil.example", "X-Forwarded-Proto": "https"},
        {"Host": "evil.example", "X-Forwarded-Host": "evil.example:1"},
    ):
        body = api.http.get(f"{api.url}/public/institutions", headers=headers, timeout=10).json()
        assert body["links"]["self"] == f"{api.url}/institutions", headers
        hooli = next(item for item in body["data"] if item["id"] == "AU00000")
        assert hooli["links"]["self"] == f"{api.url}/institutions/AU00000"
        assert hooli["logo"]["links"]["square"] == f"{api.url}/logos/AU00000.svg"
        user = api.call(
            "POST", "/users", api.token(), headers=dict(headers), json={"email": "a@b.co"}
        )
        assert user.json()["links"]["self"].startswith(f"{api.url}/users/"), headers

"""Institutions, accounts and transactions: filters, paging and deterministic data (views.py)."""

from __future__ import annotations

import re
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from blink_desktop.emulator import Emulator, FakeClock
from tests.conftest import FAST, Api, error_of, step_status
from tests.emulator.conftest import advance_until

BLINK_FILTER = (
    "institution.authorization.in('user','user-mfa','user-mfa-intermittent'),"
    "institution.stage.ne('alpha')"
)


def test_public_institutions_need_no_token_and_carry_local_logos(api: Api) -> None:
    response = api.call("GET", "/public/institutions")
    assert response.headers["Content-Type"] == "application/json"
    body = response.json()
    assert body["type"] == "list"
    assert body["totalCount"] == len(body["data"]) >= 30
    hooli = next(i for i in body["data"] if i["id"] == "AU00000")
    assert (hooli["name"], hooli["shortName"], hooli["institutionType"]) == (
        "Hooli Bank",
        "Hooli",
        "Test Bank",
    )
    for key in (
        "loginIdCaption",
        "passwordCaption",
        "tier",
        "authorization",
        "stage",
        "status",
        "country",
        "serviceType",
        "features",
        "stats",
    ):
        assert key in hooli
    for item in body["data"]:
        assert re.fullmatch(r"[A-Z]{2}[0-9]{5}", item["id"])
        for link in (item["logo"]["links"]["square"], item["logo"]["links"]["full"]):
            assert link.startswith(api.url + "/logos/")
            logo = api.http.get(link, timeout=10)
            assert logo.status_code == 200
            assert logo.headers["Content-Type"].startswith("image/svg+xml")


def test_blinks_intended_filter(api: Api) -> None:
    shown = api.call("GET", "/public/institutions", params={"filter": BLINK_FILTER}).json()["data"]
    everything = api.call("GET", "/public/institutions").json()["data"]
    expected = [
        i["id"]
        for i in everything
        if i["authorization"] in ("user", "user-mfa", "user-mfa-intermittent")
        and i["stage"] != "alpha"
    ]
    assert [i["id"] for i in shown] == expected
    assert 0 < len(expected) < len(everything)


@pytest.mark.parametrize(
    ("text", "check"),
    [
        ("institution.country.eq('New Zealand')", lambda i: i["country"] == "New Zealand"),
        ("institution.tier.in('1','2')", lambda i: i["tier"] in ("1", "2")),
        (
            'institution.serviceType.eq("Personal Banking")',
            lambda i: i["serviceType"] == "Personal Banking",
        ),
        (
            "institution.institutionType.ne('Test Bank'),institution.tier.lteq('2')",
            lambda i: i["institutionType"] != "Test Bank" and i["tier"] <= "2",
        ),
    ],
)
def test_filter_grammar(api: Api, text: str, check: Any) -> None:
    shown = api.call("GET", "/public/institutions", params={"filter": text}).json()["data"]
    assert shown
    assert all(check(item) for item in shown)


@pytest.mark.parametrize(
    "text",
    [
        "institution.stage.ne('alpha')institution.authorization.eq('user')",  # Blink HEAD's bug
        "institution.colour.eq('red')",
        "institution.tier.bt('1')",
        "institution.tier.eq(",
        "nonsense",
    ],
)
def test_bad_filters_get_400_naming_the_filter(api: Api, text: str) -> None:
    response = api.call("GET", "/public/institutions", params={"filter": text})
    assert response.status_code == 400
    assert error_of(response)["source"] == {"parameter": "filter"}


def test_institution_by_id_and_catalogue_with_a_token(api: Api) -> None:
    client = api.token("CLIENT_ACCESS")
    one = api.call("GET", "/institutions/AU00002", client).json()
    assert one["authorization"] == "user-mfa"
    assert one["links"]["self"] == f"{api.url}/institutions/AU00002"
    assert api.call("GET", "/institutions", client).json()["totalCount"] >= 30


def test_accounts_and_transactions_of_a_connection(api: Api) -> None:
    user = api.user()
    connection = api.connected(user)
    server = api.token()
    accounts = api.call("GET", f"/users/{user}/accounts", server).json()
    assert accounts["type"] == "list"
    classes = {a["class"]["type"] for a in accounts["data"]}
    assert len(accounts["data"]) >= 2
    assert "transaction" in classes
    account = accounts["data"][0]
    for key in (
        "accountNo",
        "name",
        "currency",
        "balance",
        "availableFunds",
        "lastUpdated",
        "accountHolder",
        "status",
        "transactionIntervals",
        "links",
    ):
        assert key in account
    assert account["connection"] == connection
    assert account["institution"] == "AU00000"
    assert re.fullmatch(r"-?\d+\.\d\d", account["balance"])
    one = api.call("GET", f"/users/{user}/accounts/{account['id']}", server).json()
    assert one == account
    transactions = all_transactions(api, user, server)
    assert 150 <= len(transactions) <= 600
    dates = {t["postDate"][:10] for t in transactions if t["postDate"]}
    assert date.fromisoformat(max(dates)) - date.fromisoformat(min(dates)) > timedelta(days=60)
    first = transactions[0]
    for key in (
        "status",
        "description",
        "amount",
        "balance",
        "direction",
        "class",
        "account",
        "connection",
        "institution",
        "postDate",
        "transactionDate",
        "links",
    ):
        assert key in first
    assert {t["direction"] for t in transactions} == {"debit", "credit"}
    assert all((t["direction"] == "credit") == (float(t["amount"]) > 0) for t in transactions)
    shown = api.call("GET", f"/users/{user}/transactions/{first['id']}", server).json()
    assert shown == first


def all_transactions(
    api: Api, user: str, token: str, limit: int = 100, **params: str
) -> list[dict[str, Any]]:
    page = api.call(
        "GET", f"/users/{user}/transactions", token, params={"limit": limit, **params}
    ).json()
    rows = list(page["data"])
    while "next" in page["links"]:
        assert page["size"] == limit
        page = api.http.get(
            page["links"]["next"], headers={"Authorization": f"Bearer {token}"}, timeout=10
        ).json()
        rows += page["data"]
    assert len(rows) == page["count"]
    assert len({row["id"] for row in rows}) == len(rows)
    return rows


def test_transactions_sorted_by_account_then_pending_then_newest(api: Api) -> None:
    user = api.user()
    api.connected(user)
    rows = all_transactions(api, user, api.token(), limit=500)
    by_account: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_account.setdefault(row["account"], []).append(row)
    assert list(by_account) == sorted(by_account)
    for items in by_account.values():
        statuses = [row["status"] for row in items]
        assert statuses == sorted(statuses, key=lambda s: s != "pending")
        posted = [row["postDate"] for row in items if row["status"] == "posted"]
        assert posted == sorted(posted, reverse=True)


def test_transaction_filters_and_limits(api: Api) -> None:
    user = api.user()
    api.connected(user)
    server = api.token()
    every = all_transactions(api, user, server)
    middle = sorted(t["postDate"][:10] for t in every if t["postDate"])[len(every) // 2]
    debits = all_transactions(api, user, server, filter="transaction.direction.eq('debit')")
    assert debits and all(t["direction"] == "debit" for t in debits)
    recent = all_transactions(api, user, server, filter=f"transaction.postDate.gteq('{middle}')")
    assert recent and all(t["postDate"][:10] >= middle for t in recent)
    pending = all_transactions(api, user, server, filter="transaction.status.eq('pending')")
    assert all(t["status"] == "pending" for t in pending)
    for limit in ("0", "501", "ten"):
        response = api.call("GET", f"/users/{user}/transactions", server, params={"limit": limit})
        assert response.status_code == 400


def test_data_appears_only_once_the_job_has_retrieved_it(clock: FakeClock, capi: Api) -> None:
    user = capi.user()
    job_id = capi.connect(user).json()["id"]
    server = capi.token()
    seen: list[tuple[str | None, ...]] = []

    def check() -> bool:
        job = capi.job(job_id, server)
        verify, accounts_step, transactions_step = (
            step_status(job, title)
            for title in ("verify-credentials", "retrieve-accounts", "retrieve-transactions")
        )
        connection = capi.call("GET", f"/users/{user}/connections", server).json()["data"][0]
        accounts = capi.call("GET", f"/users/{user}/accounts", server).json()["data"]
        transactions = capi.call("GET", f"/users/{user}/transactions", server).json()["data"]
        shown = capi.call("GET", f"/users/{user}", server).json()["accounts"]["count"]
        assert (connection["status"] == "active") == (verify == "success")
        assert bool(accounts) == (accounts_step == "success") == (shown > 0)
        assert bool(transactions) == (transactions_step == "success")
        if not seen or seen[-1] != (verify, accounts_step, transactions_step):
            seen.append((verify, accounts_step, transactions_step))
        return transactions_step == "success"

    advance_until(clock, check, step=0.1)
    assert seen == [
        ("pending", "pending", "pending"),
        ("in-progress", "pending", "pending"),
        ("success", "in-progress", "pending"),
        ("success", "success", "in-progress"),
        ("success", "success", "success"),
    ]


def test_state_file_keeps_everything_across_a_restart(tmp_path: Path) -> None:
    state = tmp_path / "emulator.db"
    with Emulator(state_path=state, job_speed=FAST) as first:
        api = Api(first)
        user = api.user()
        connection = api.connected(user)
        token = api.token()
        before = all_transactions(api, user, token)
    with Emulator(state_path=state, job_speed=FAST) as second:
        api = Api(second)
        server = api.token()
        # Tokens stay valid: the signing secret is part of the state.
        assert api.call("GET", f"/users/{user}", token).status_code == 200
        shown = api.call("GET", f"/users/{user}/connections/{connection}", server).json()
        assert shown["status"] == "active"
        after = all_transactions(api, user, server)
        assert [strip_host(t) for t in after] == [strip_host(t) for t in before]
        assert len(api.call("GET", f"/users/{user}/jobs", server).json()["data"]) == 1


def strip_host(row: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in row.items() if key != "links"}

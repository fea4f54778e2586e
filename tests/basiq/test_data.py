"""Accounts, transactions, refresh and delete through the typed client, against the emulator over
real HTTP, compared with what the API itself answers."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

import bottle
import pytest
from pydantic import BaseModel

from blink_desktop.basiq import Account, BasiqClient, Job, KeyHolder, TokenExpired, Transaction
from blink_desktop.emulator import Emulator
from blink_desktop.errors import ApiAuthError, ApiResponseError, NotFound
from tests.conftest import Api, serving, wait_for


@pytest.fixture
def client(emulator: Emulator) -> BasiqClient:
    return BasiqClient(emulator.url, version="3.0")


@pytest.fixture
def server(client: BasiqClient, emulator: Emulator) -> str:
    return client.token(emulator.api_key, "SERVER_ACCESS").access_token


def raw(api: Api, path: str, **params: str) -> list[dict[str, Any]]:
    """Every item of a list, as the API answers it, following links.next by hand."""
    token = api.token()
    page = api.call("GET", path, token, params=params).json()
    items = list(page["data"])
    while page["links"].get("next"):
        headers = {"Authorization": f"Bearer {token}"}
        page = api.http.get(page["links"]["next"], headers=headers, timeout=10).json()
        items += page["data"]
    return items


def as_basiq_sends(model: BaseModel) -> dict[str, Any]:
    """A model back in Basiq's JSON: its names, amounts as strings, empty dates empty."""
    shown = model.model_dump(mode="json", by_alias=True)
    return {
        key: "" if key.endswith("Date") and value is None else value for key, value in shown.items()
    }


def without_type(item: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in item.items() if key != "type"}


def test_accounts_are_the_apis_accounts(client: BasiqClient, server: str, api: Api) -> None:
    user = api.user()
    first = api.connected(user)
    second = api.connected(user, login="jared", password="django")
    accounts = client.accounts(server, user)
    assert all(isinstance(account, Account) for account in accounts)
    assert [as_basiq_sends(a) for a in accounts] == [
        without_type(item) for item in raw(api, f"/users/{user}/accounts")
    ]
    for connection in (first, second):
        mine = client.accounts(server, user, connection)
        assert mine and {account.connection for account in mine} == {connection}
        assert [a.id for a in mine] == [a.id for a in accounts if a.connection == connection]
    account = accounts[0]
    assert client.account(server, user, account.id) == account
    assert account.kind == account.class_.type and account.balance is not None
    assert account.lastUpdated is not None and account.lastUpdated.tzinfo is not None


def test_transactions_follow_every_page(client: BasiqClient, server: str, api: Api) -> None:
    user = api.user()
    api.connected(user)
    api.connected(user, login="jared", password="django")
    expected = raw(api, f"/users/{user}/transactions")
    pages = list(client.transaction_pages(server, user, page_size=60))
    assert len(pages) == -(-len(expected) // 60) > 2
    assert all(page.count == len(expected) for page in pages)
    every = client.transactions(server, user, page_size=60)
    assert [t for page in pages for t in page.data] == every
    assert all(isinstance(transaction, Transaction) for transaction in every)
    assert [as_basiq_sends(t) for t in every] == [without_type(item) for item in expected]
    assert client.transactions(server, user) == every  # 500 to a page, Basiq's most


def test_transactions_take_basiqs_filters(client: BasiqClient, server: str, api: Api) -> None:
    user = api.user()
    first = api.connected(user)
    api.connected(user, login="jared", password="django")
    every = client.transactions(server, user)
    path = f"/users/{user}/transactions"

    def ids(items: list[Transaction]) -> list[str]:
        return [item.id for item in items]

    mine = client.transactions(server, user, connection_id=first)
    assert ids(mine) == [t.id for t in every if t.connection == first]
    assert ids(mine) == [t["id"] for t in raw(api, path, filter=f"connection.id.eq('{first}')")]
    account = mine[0].account
    theirs = client.transactions(server, user, account_id=account, connection_id=first)
    assert ids(theirs) == [t.id for t in every if t.account == account]
    posted = sorted({t.postDate.date() for t in every if t.postDate})
    since, until = posted[len(posted) // 3], posted[2 * len(posted) // 3]

    def posted_between(low: date, high: date) -> list[str]:
        return [t.id for t in every if t.postDate and low <= t.postDate.date() <= high]

    assert ids(client.transactions(server, user, since=since)) == posted_between(since, date.max)
    assert ids(client.transactions(server, user, until=until)) == posted_between(date.min, until)
    between = client.transactions(server, user, since=since, until=until, page_size=25)
    assert ids(between) == posted_between(since, until)
    by_the_api = raw(api, path, filter=f"transaction.postDate.bt('{since}','{until}')")
    assert ids(between) == [t["id"] for t in by_the_api]
    assert any(t.pending for t in every) and not any(t.pending for t in between)


def test_what_a_transaction_tells(client: BasiqClient, server: str, api: Api) -> None:
    user = api.user()
    api.connected(user)
    every = client.transactions(server, user)
    by_id = {item["id"]: item for item in raw(api, f"/users/{user}/transactions")}
    for transaction in every:
        sent = by_id[transaction.id]
        assert transaction.credit == (sent["direction"] == "credit")
        assert transaction.category == ((sent["subClass"] or {}).get("title") or None)
        assert transaction.date is not None
        assert transaction.pending == (sent["status"] == "pending") == (not sent["postDate"])
    assert any(t.category for t in every) and any(t.credit for t in every)


def finished(client: BasiqClient, token: str, job: Job) -> Job:
    def check() -> Job | None:
        found = client.job(token, job.id)
        return found if found.done else None

    return wait_for(check)


def test_refresh_brings_the_new_transactions(
    client: BasiqClient, server: str, api: Api, emulator: Emulator
) -> None:
    user = api.user()
    connection = api.connected(user)
    before = {t.id for t in client.transactions(server, user)}
    emulator.pass_time(days=4)
    server = client.token(emulator.api_key, "SERVER_ACCESS").access_token
    job = client.refresh(server, user, connection)
    done = finished(client, server, job)
    assert not done.failed and done.connection_id == connection
    after = client.transactions(server, user)
    assert before < {t.id for t in after}
    assert [as_basiq_sends(t) for t in after] == [
        without_type(item) for item in raw(api, f"/users/{user}/transactions")
    ]


def test_a_broken_connections_refresh_fails_with_basiqs_code(
    client: BasiqClient, server: str, api: Api, emulator: Emulator
) -> None:
    user = api.user()
    kept = api.connected(user)
    broken = api.connected(user, login="jared", password="django")
    emulator.break_connection(broken)
    jobs = client.refresh_all(server, user)
    assert len(jobs) == 2 and all(job.id for job in jobs)
    settled = [finished(client, server, job) for job in jobs]
    failures = [job.failure() for job in settled]
    codes = sorted(failure.code or "" if failure else "ok" for failure in failures)
    assert codes == ["invalid-credentials", "ok"]
    statuses = {c.id: c.status for c in client.connections(server, user)}
    assert statuses == {kept: "active", broken: "invalid"}


def test_delete_a_connection(client: BasiqClient, server: str, api: Api) -> None:
    user = api.user()
    kept = api.connected(user)
    gone = api.connected(user, login="jared", password="django")
    client.delete_connection(server, user, gone)
    assert [c.id for c in client.connections(server, user)] == [kept]
    assert {a.connection for a in client.accounts(server, user)} == {kept}
    assert {t.connection for t in client.transactions(server, user)} == {kept}
    client.delete_connection(server, user, gone)  # gone already: deleted, as asked
    assert [c.id for c in client.connections(server, user)] == [kept]
    with pytest.raises(NotFound, match=r"no such thing \(404: .*\) for the connection\.$"):
        client.connection(server, user, gone)


def test_an_expired_token_is_told_apart_and_the_keyholder_takes_a_new_one(
    client: BasiqClient, server: str, api: Api, emulator: Emulator
) -> None:
    user = api.user()
    connection = api.connected(user)
    holder = KeyHolder(client, emulator.api_key)
    assert holder.accounts(user, connection)
    emulator.expire_tokens()
    with pytest.raises(TokenExpired, match="expired"):
        client.accounts(server, user)
    assert holder.server_token_fetches == 1
    assert [a.id for a in holder.accounts(user, connection)] == [
        a.id for a in client.accounts(holder.server_token(), user, connection)
    ]
    assert holder.server_token_fetches == 2
    assert holder.transactions(user, connection_id=connection)
    assert not holder.refresh(user, connection).failed
    client_token = client.token(emulator.api_key, "CLIENT_ACCESS", user).access_token
    with pytest.raises(ApiAuthError) as refused:  # the wrong scope is no expiry
        client.accounts(client_token, user)
    assert not isinstance(refused.value, TokenExpired)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"connection_id": "x') ,institution.id.eq('AU00000"},
        {"account_id": "a b"},
        {"page_size": 0},
        {"page_size": 501},
    ],
)
def test_what_cannot_be_a_filter_is_refused_before_asking(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        BasiqClient("http://127.0.0.1:9").transactions("token", "user", **kwargs)


@pytest.fixture
def elsewhere() -> Iterator[tuple[str, list[str]]]:
    """Another server, which records the Authorization of every request it gets."""
    seen: list[str] = []
    app = bottle.Bottle()

    def anything(path: str) -> Any:
        seen.append(bottle.request.headers.get("Authorization", ""))
        return {"type": "list", "data": [], "links": {}}

    app.route("/<path:path>", "GET", anything)
    with serving(app) as url:
        yield url, seen


def paging_to(next_link: str) -> Any:
    app = bottle.Bottle()

    def page(user: str) -> Any:
        return {"type": "list", "count": 0, "size": 0, "data": [], "links": {"next": next_link}}

    app.route("/users/<user>/transactions", "GET", page)
    return app


def test_a_next_page_on_another_host_is_not_followed(elsewhere: tuple[str, list[str]]) -> None:
    url, seen = elsewhere
    with (
        serving(paging_to(f"{url}/users/u/transactions?next=2")) as base,
        pytest.raises(ApiResponseError, match="elsewhere"),
    ):
        BasiqClient(base).transactions("secret-token", "u")
    assert seen == []


def test_pages_that_go_round_in_a_circle_end() -> None:
    with (
        serving(paging_to("/users/u/transactions?limit=500")) as base,
        pytest.raises(ApiResponseError, match="circle"),
    ):
        BasiqClient(base).transactions("token", "u")

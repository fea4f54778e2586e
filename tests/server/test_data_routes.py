"""serve's endpoints for the connection manager, on both engines, with the emulator as Basiq:
what they answer equals what Basiq's API holds, each client sees only its own users, and the
app's manager works through them in backend mode."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
import requests

from blink_desktop.app.backend import BackendClient
from blink_desktop.app.manager import ConnectionManager
from blink_desktop.app.store import Store
from blink_desktop.basiq.client import BasiqClient
from blink_desktop.emulator import Emulator
from blink_desktop.errors import ApiResponseError
from blink_desktop.server import build_server
from blink_desktop.settings import load_settings
from tests.conftest import Api, serving, wait_for
from tests.server.conftest import CLIENT

OTHER = "another-app"


class Caller:
    """One client of the server."""

    def __init__(self, url: str, client_id: str) -> None:
        self.url = url
        self.client_id = client_id

    def call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        headers = {"X-Client-Id": self.client_id}
        return requests.request(method, self.url + path, headers=headers, timeout=20, **kwargs)

    def result(self, method: str, path: str, status: int = 200, **kwargs: Any) -> Any:
        reply = self.call(method, path, **kwargs)
        assert reply.status_code == status, reply.text
        body = reply.json()
        assert body["success"] is True
        return body["result"]

    def user(self, email: str) -> str:
        return str(
            self.result("POST", "/user", json={"email": email, "client_id": self.client_id})["id"]
        )


@pytest.fixture
def server_url(emulator: Emulator, database: Path | str) -> Iterator[str]:
    settings = load_settings(api_key=emulator.api_key, api_url=emulator.url)
    with ExitStack() as stack:
        server = build_server(settings, database=database, client_ids=[CLIENT, OTHER])
        stack.callback(server.close)
        yield stack.enter_context(serving(server.app))


@pytest.fixture
def app_client(server_url: str) -> Caller:
    return Caller(server_url, CLIENT)


@pytest.fixture
def other_client(server_url: str) -> Caller:
    return Caller(server_url, OTHER)


@pytest.fixture
def connected(app_client: Caller, api: Api) -> tuple[str, str]:
    user = app_client.user("gavin@hooli.com")
    return user, api.connected(user)


def test_accounts_and_every_page_of_transactions_are_basiqs(
    app_client: Caller, connected: tuple[str, str], api: Api, emulator: Emulator
) -> None:
    user, connection_id = connected
    client, token = BasiqClient(emulator.url), api.token()
    accounts = app_client.result("GET", f"/users/{user}/accounts")["data"]
    assert accounts == [
        item.model_dump(mode="json", by_alias=True, exclude_none=True)
        for item in client.accounts(token, user)
    ]
    one = app_client.result("GET", f"/users/{user}/accounts?connection_id={connection_id}")
    assert [a["id"] for a in one["data"]] == [a["id"] for a in accounts]
    seen: list[str] = []
    page = app_client.result("GET", f"/users/{user}/transactions?limit=40")
    pages = 1
    while True:
        assert len(page["data"]) <= 40
        seen += [item["id"] for item in page["data"]]
        if not page["next"]:
            break
        page = app_client.result(
            "GET", f"/users/{user}/transactions", params={"cursor": page["next"]}
        )
        pages += 1
    listed = client.transactions(token, user)
    assert pages > 1 and sorted(seen) == sorted(t.id for t in listed)
    account = accounts[0]["id"]
    pending = app_client.result(
        "GET", f"/users/{user}/transactions?account_id={account}&status=pending"
    )["data"]
    assert {t["id"] for t in pending} == {
        t.id for t in client.transactions(token, user, account_id=account, status="pending")
    }


def test_bad_queries_are_refused_in_words(app_client: Caller, connected: tuple[str, str]) -> None:
    user, _ = connected
    for query, code in [
        ("since=2026-02-30", "since-invalid"),
        ("limit=501", "limit-invalid"),
        ("status=gone", "status-invalid"),
        ("connection_id=a'b", "connection_id-invalid"),
        ("cursor=/users/someone-else/transactions?next=1", "cursor-invalid"),
    ]:
        reply = app_client.call("GET", f"/users/{user}/transactions?{query}")
        assert (reply.status_code, reply.json()["error"]["code"]) == (400, code), query


def test_refresh_its_progress_and_delete(
    app_client: Caller, connected: tuple[str, str], api: Api
) -> None:
    user, connection_id = connected
    job = app_client.result("POST", f"/users/{user}/connections/{connection_id}/refresh", 202)

    def finished() -> dict[str, Any] | None:
        seen = app_client.result("GET", f"/users/{user}/jobs/{job['id']}")
        done = all(step["status"] == "success" for step in seen["steps"])
        return seen if done else None

    done = wait_for(finished)
    assert done["links"]["source"].endswith(f"/users/{user}/connections/{connection_id}")
    assert api.job(job["id"])["steps"] == done["steps"]  # as Basiq has it
    deleted = app_client.result("DELETE", f"/users/{user}/connections/{connection_id}")
    assert deleted == {"id": connection_id, "deleted": True}
    gone = api.call("GET", f"/users/{user}/connections/{connection_id}", api.token())
    assert gone.status_code == 404


def test_what_basiq_answers_the_server_reaches_the_app_as_an_answer_not_an_outage(
    server_url: str, connected: tuple[str, str], api: Api, emulator: Emulator, tmp_path: Path
) -> None:
    """Basiq saying no to your server (here: the connection was deleted elsewhere) is not your
    server failing to reach Basiq: the app says what Basiq said, and no "retry later"."""
    user, connection_id = connected
    assert api.call("DELETE", f"/users/{user}/connections/{connection_id}", api.token()).ok
    backend = BackendClient(server_url, CLIENT)
    with pytest.raises(ApiResponseError) as said:
        backend.refresh(user, connection_id)
    assert "404" in str(said.value) and "Requested connection does not exist" in str(said.value)
    assert "Retry" not in str(said.value)
    # A server whose API key Basiq refuses: the person is told whom to ask, not to retry.
    settings = load_settings(api_key="not-the-key", api_url=emulator.url)
    with ExitStack() as stack:
        refused = build_server(settings, database=tmp_path / "refused.sqlite", client_ids=[CLIENT])
        stack.callback(refused.close)
        url = stack.enter_context(serving(refused.app))
        with pytest.raises(ApiResponseError, match="tell whoever runs your server"):
            BackendClient(url, CLIENT).basiq_user("gavin@hooli.com")


def test_deleting_a_connection_already_gone_at_basiq_lets_the_app_let_go_of_it(
    server_url: str, connected: tuple[str, str], api: Api, tmp_path: Path
) -> None:
    """Deleted elsewhere (another device, the Consent UI): the app in backend mode cannot list
    the user's connections to notice, so its Delete must still remove it here."""
    user, connection_id = connected
    kept = api.connected(user, login="richard", password="tabsnotspaces")
    store = Store(tmp_path / "app.sqlite")
    try:
        with store.writing("the connections") as tx:
            tx.upsert_connection(connection_id, user, None)
            tx.upsert_connection(kept, user, None)
        manager = ConnectionManager(store, BackendClient(server_url, CLIENT))
        assert api.call("DELETE", f"/users/{user}/connections/{connection_id}", api.token()).ok
        manager.delete(connection_id)
        assert store.connection(connection_id) is None
        assert [row.id for row in store.connections()] == [kept]
    finally:
        store.close()
    # The other connection is untouched, at Basiq as here.
    listed = api.call("GET", f"/users/{user}/connections", api.token()).json()["data"]
    assert [item["id"] for item in listed] == [kept]


def test_another_clients_user_is_refused(
    app_client: Caller, other_client: Caller, connected: tuple[str, str], api: Api
) -> None:
    user, connection_id = connected
    job = app_client.result("POST", f"/users/{user}/connections/{connection_id}/refresh", 202)
    for method, path in [
        ("GET", f"/users/{user}/accounts"),
        ("GET", f"/users/{user}/transactions"),
        ("POST", f"/users/{user}/connections/{connection_id}/refresh"),
        ("GET", f"/users/{user}/jobs/{job['id']}"),
        ("DELETE", f"/users/{user}/connections/{connection_id}"),
    ]:
        reply = other_client.call(method, path)
        assert (reply.status_code, reply.json()["error"]["code"]) == (404, "user-unknown"), path
    # Its own user cannot reach the first one's job either.
    mine = other_client.user("jared@hooli.com")
    reply = other_client.call("GET", f"/users/{mine}/jobs/{job['id']}")
    assert (reply.status_code, reply.json()["error"]["code"]) == (404, "job-unknown")
    assert api.call("GET", f"/users/{user}/connections/{connection_id}", api.token()).ok
    for headers, status in [({}, 400), ({"X-Client-Id": "nope"}, 401)]:
        reply = requests.get(f"{app_client.url}/users/{user}/accounts", headers=headers, timeout=10)
        assert reply.status_code == status


def test_the_apps_manager_in_backend_mode(
    server_url: str, connected: tuple[str, str], api: Api, emulator: Emulator, tmp_path: Path
) -> None:
    user, connection_id = connected
    store = Store(tmp_path / "app.sqlite")
    try:
        with store.writing("the connection") as tx:
            tx.upsert_connection(connection_id, user, None)
        manager = ConnectionManager(store, BackendClient(server_url, CLIENT), poll=0.05)
        manager.fetch(connection_id)
        client, token = BasiqClient(emulator.url), api.token()
        assert {t.id for t in manager.transactions(connection_id)} == {
            t.id for t in client.transactions(token, user, connection_id=connection_id)
        }
        emulator.pass_time(days=5)
        steps: list[tuple[str, str]] = []
        fetched = manager.refresh(connection_id, lambda *step: steps.append(step))
        assert fetched.added > 0 and steps[-1] == ("retrieve-transactions", "success")
        token = api.token()  # the days let pass expired the first
        assert {t.id for t in manager.transactions(connection_id)} == {
            t.id for t in client.transactions(token, user, connection_id=connection_id)
        }
        manager.delete(connection_id)
        assert store.connection(connection_id) is None
        gone = api.call("GET", f"/users/{user}/connections/{connection_id}", api.token())
        assert gone.status_code == 404
    finally:
        store.close()

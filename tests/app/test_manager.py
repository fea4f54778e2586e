"""The connection manager on a real emulator: what it keeps equals what Basiq's API holds,
incremental fetches after time passes, refreshes that fail in words, deletion, and a store
that keeps it all across reopening."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from blink_desktop.app.manager import ConnectionManager
from blink_desktop.app.store import Store
from blink_desktop.basiq.client import BasiqClient
from blink_desktop.basiq.keyholder import KeyHolder
from blink_desktop.basiq.models import Account, Transaction
from blink_desktop.emulator import Emulator, Fault
from blink_desktop.errors import ApiUnavailable, BlinkError
from tests.conftest import Api


class Bank:
    """Basiq's API as any client reads it, to compare with what the manager kept."""

    def __init__(self, emulator: Emulator) -> None:
        self.client = BasiqClient(emulator.url)
        self.api = Api(emulator)

    def accounts(self, user: str, connection_id: str) -> list[Account]:
        return self.client.accounts(self.api.token(), user, connection_id)

    def transactions(self, user: str, connection_id: str, **filters: object) -> list[Transaction]:
        return self.client.transactions(
            self.api.token(),
            user,
            connection_id=connection_id,
            **filters,  # type: ignore[arg-type]
        )


def connected(api: Api, store: Store, user: str, login: str = "gavinBelson") -> str:
    """A Hooli connection made at the emulator and stored as the app stores one."""
    passwords = {"gavinBelson": "hooli2016", "jared": "django", "richard": "tabsnotspaces"}
    connection_id = api.connected(user, login=login, password=passwords[login])
    with store.writing("the connection") as tx:
        tx.upsert_connection(connection_id, user, None)
        tx.describe(connection_id, institution_id="AU00000", institution="Hooli", detail=None)
    return connection_id


@pytest.fixture
def manager(emulator: Emulator, store: Store) -> ConnectionManager:
    holder = KeyHolder(BasiqClient(emulator.url), emulator.api_key)
    return ConnectionManager(store, holder, poll=0.05, patience=20)


@pytest.fixture
def user(api: Api) -> str:
    return api.user()


@pytest.fixture
def bank(emulator: Emulator) -> Iterator[Bank]:
    yield Bank(emulator)


def kept_like_basiq(
    manager: ConnectionManager, bank: Bank, user: str, connection_id: str
) -> list[Transaction]:
    """Assert the ledger holds exactly what the API holds; answer the API's transactions."""
    accounts = bank.accounts(user, connection_id)
    stored = manager.accounts(connection_id)
    assert [a.id for a in stored] == [a.id for a in accounts]
    for mine, theirs in zip(stored, accounts, strict=True):
        assert (mine.name, mine.type, mine.currency) == (theirs.name, theirs.kind, theirs.currency)
        assert mine.balance == str(theirs.balance)
        assert mine.available == str(theirs.availableFunds)
        assert mine.number == "••" + (theirs.accountNo or "")[-4:]
    listed = bank.transactions(user, connection_id)
    kept = manager.transactions(connection_id)
    assert {t.id: (t.amount, t.direction, t.status) for t in kept} == {
        t.id: (str(t.amount), t.direction, t.status) for t in listed
    }
    by_id = {t.id: t for t in listed}
    for item in kept:
        source = by_id[item.id]
        assert source.date is not None
        assert item.date == source.date.date().isoformat()
        assert item.description == source.description
        assert item.category == source.category
    moments = [item.moment for item in kept]
    assert moments == sorted(moments, reverse=True)  # newest first
    return listed


def test_fetch_keeps_what_basiq_holds(
    manager: ConnectionManager, api: Api, store: Store, bank: Bank, user: str
) -> None:
    connection_id = connected(api, store, user)
    fetched = manager.fetch(connection_id)
    listed = kept_like_basiq(manager, bank, user, connection_id)
    assert (fetched.since, fetched.added, fetched.removed) == (None, len(listed), 0)
    assert fetched.accounts == len(bank.accounts(user, connection_id))
    page = manager.page(connection_id)
    assert (page["id"], page["institution"], page["status"]) == (
        connection_id,
        "Hooli",
        "connected",
    )
    assert page["fetched"] == fetched.fetched
    assert page["transactions"] == len(listed)
    assert [a["id"] for a in page["accounts"]] == [a.id for a in bank.accounts(user, connection_id)]
    # The same fetch again changes nothing.
    again = manager.fetch(connection_id)
    assert (again.added, again.updated, again.removed) == (0, 0, 0)
    assert again.since is not None


def test_filters_match_basiqs(
    manager: ConnectionManager, api: Api, store: Store, bank: Bank, user: str
) -> None:
    connection_id = connected(api, store, user)
    manager.fetch(connection_id)
    account = bank.accounts(user, connection_id)[0]
    theirs = bank.transactions(user, connection_id, account_id=account.id)
    mine = manager.transactions(account_id=account.id)
    assert {t.id for t in mine} == {t.id for t in theirs}
    posted = [t for t in bank.transactions(user, connection_id) if t.postDate is not None]
    days = sorted({t.postDate.date() for t in posted if t.postDate})
    since, until = days[len(days) // 3], days[2 * len(days) // 3]
    theirs = bank.transactions(user, connection_id, since=since, until=until)
    mine = [
        t
        for t in manager.transactions(connection_id, since=since, until=until)
        if t.status != "pending"
    ]
    assert {t.id for t in mine} == {t.id for t in theirs}
    assert all(since.isoformat() <= t.date <= until.isoformat() for t in mine)
    with pytest.raises(BlinkError, match="wrong way round"):
        manager.transactions(since=until, until=since)


def test_time_passing_then_refresh_brings_new_rows_incrementally(
    manager: ConnectionManager, api: Api, store: Store, bank: Bank, user: str, emulator: Emulator
) -> None:
    connection_id = connected(api, store, user)
    first = manager.fetch(connection_id)
    before = {t.id for t in manager.transactions(connection_id)}
    emulator.pass_time(days=10)
    steps: list[tuple[str, str]] = []
    fetched = manager.refresh(connection_id, lambda title, status: steps.append((title, status)))
    assert fetched.since is not None  # by date, not everything again
    assert fetched.added > 0
    listed = kept_like_basiq(manager, bank, user, connection_id)
    assert {t.id for t in listed} - before  # the API holds new rows, and so does the ledger
    assert steps[-1] == ("retrieve-transactions", "success")
    assert [title for title, status in steps if status == "success"] == [
        "verify-credentials",
        "retrieve-accounts",
        "retrieve-transactions",
    ]
    page = manager.page(connection_id)
    assert page["status"] == "active"
    assert page["last_refreshed"] > page["created"]
    assert page["fetched"] > first.fetched
    # As the window and the command line ask for one: each step names the connection.
    emulator.pass_time(days=1)
    told: list[tuple[str, str, str]] = []
    answered = manager.refresh_one(connection_id, lambda *step: told.append(step))
    assert answered.ok and answered.fetch is not None and answered.fetch.since is not None
    assert told[-1] == (connection_id, "retrieve-transactions", "success")


def test_a_broken_connection_fails_to_refresh_in_words(
    manager: ConnectionManager, api: Api, store: Store, user: str, emulator: Emulator
) -> None:
    connection_id = connected(api, store, user)
    manager.fetch(connection_id)
    kept = manager.transactions(connection_id)
    emulator.break_connection(connection_id)
    steps: list[tuple[str, str]] = []
    with pytest.raises(BlinkError) as failed:
        manager.refresh(connection_id, lambda title, status: steps.append((title, status)))
    message = str(failed.value)
    assert message.startswith("Hooli refused the saved password")
    assert "Use Fix" in message
    assert ("verify-credentials", "failed") in steps
    assert manager.page(connection_id)["status"] == "invalid"
    assert manager.transactions(connection_id) == kept  # nothing lost
    answered = manager.refresh_one(connection_id)  # the same, answered rather than raised
    assert (answered.ok, answered.fetch) == (False, None)
    assert answered.error is not None and answered.error.startswith("Hooli refused")


def test_refresh_all_goes_on_past_a_failure(
    manager: ConnectionManager, api: Api, store: Store, user: str, emulator: Emulator
) -> None:
    good = connected(api, store, user)
    broken = connected(api, store, user, login="jared")
    emulator.break_connection(broken)
    told: list[tuple[str, str, str]] = []
    results = {r.connection_id: r for r in manager.refresh_all(lambda *step: told.append(step))}
    fetched = results[good].fetch
    assert results[good].ok and fetched is not None and fetched.added > 0
    assert not results[broken].ok and "refused the saved password" in str(results[broken].error)
    assert {connection for connection, _, _ in told} == {good, broken}


def test_a_connection_deleted_elsewhere_is_deleted_here_too(
    manager: ConnectionManager, api: Api, store: Store, user: str
) -> None:
    connection_id = connected(api, store, user)
    manager.fetch(connection_id)
    gone = api.call("DELETE", f"/users/{user}/connections/{connection_id}", api.token())
    assert gone.status_code == 204  # in Basiq's dashboard, say
    manager.delete(connection_id)
    assert store.connection(connection_id) is None
    assert manager.ledger.accounts(connection_id) == []


def test_refresh_all_of_one_person_leaves_the_others_alone(
    manager: ConnectionManager, api: Api, store: Store, user: str
) -> None:
    mine = connected(api, store, user)
    theirs = connected(api, store, api.user("monica@raviga.com"))
    told: list[tuple[str, str, str]] = []
    results = manager.refresh_all(lambda *step: told.append(step), user_id=user)
    assert [result.connection_id for result in results] == [mine]
    assert {connection for connection, _, _ in told} == {mine}
    assert manager.ledger.fetched(theirs) is None  # never asked for


def test_delete_removes_it_at_basiq_and_here(
    manager: ConnectionManager, api: Api, store: Store, user: str
) -> None:
    connection_id = connected(api, store, user)
    other = connected(api, store, user, login="jared")
    manager.fetch(connection_id)
    manager.fetch(other)
    kept_other = manager.transactions(other)
    manager.delete(connection_id)
    assert store.connection(connection_id) is None
    assert manager.ledger.accounts(connection_id) == []
    assert manager.ledger.transactions(connection_id) == []
    assert manager.ledger.fetched(connection_id) is None
    assert manager.transactions(other) == kept_other  # the other connection's stay
    gone = api.call("GET", f"/users/{user}/connections/{connection_id}", api.token())
    assert gone.status_code == 404
    assert store.events()[-1]["event"] == "deleted"
    assert store.events()[-1]["payload"]["connection"] == connection_id
    with pytest.raises(BlinkError, match="No bank connection has the id"):
        manager.delete(connection_id)


def test_data_survives_reopening_the_store(
    manager: ConnectionManager, api: Api, store: Store, user: str, tmp_path: Path
) -> None:
    connection_id = connected(api, store, user)
    manager.fetch(connection_id)
    page, kept = manager.page(connection_id), manager.transactions(connection_id)
    store.close()
    reopened = Store(tmp_path / "blink.db")
    try:
        # No source at all: reading never asks Basiq.
        offline = ConnectionManager(reopened, None)  # type: ignore[arg-type]
        assert offline.page(connection_id) == page
        assert offline.transactions(connection_id) == kept
    finally:
        reopened.close()


def test_unknown_ids_get_one_clear_message(manager: ConnectionManager) -> None:
    with pytest.raises(BlinkError, match="`blink-desktop connections` lists them"):
        manager.page("no-such")
    with pytest.raises(BlinkError, match="`blink-desktop accounts` lists them"):
        manager.transactions(account_id="no-such")
    with pytest.raises(BlinkError, match="No bank connection"):
        manager.refresh("no-such")
    assert "No bank connection" in (manager.refresh_one("no-such").error or "")


def test_basiq_failing_leaves_the_ledger_as_it_was(
    manager: ConnectionManager, api: Api, store: Store, user: str, emulator: Emulator
) -> None:
    connection_id = connected(api, store, user)
    manager.fetch(connection_id)
    kept = manager.transactions(connection_id)
    emulator.faults.add(Fault.parse("'GET /users/*' status=500"))
    with pytest.raises(BlinkError, match="Could not fetch Hooli's accounts"):
        manager.fetch(connection_id)
    assert manager.transactions(connection_id) == kept


def test_basiq_out_of_reach_stays_a_reason_to_try_again(
    manager: ConnectionManager, api: Api, store: Store, user: str, emulator: Emulator
) -> None:
    """The window offers Try again, and the page says offline, only for ApiUnavailable."""
    connection_id = connected(api, store, user)
    emulator.faults.add(Fault.parse("'DELETE /users/*' status=500"))
    with pytest.raises(ApiUnavailable, match="Could not delete Hooli at Basiq, so it was kept"):
        manager.delete(connection_id)
    assert store.connection(connection_id) is not None
    emulator.faults.add(Fault.parse("'GET /users/*' status=500"))
    with pytest.raises(ApiUnavailable, match="Could not fetch Hooli's accounts"):
        manager.fetch(connection_id)


def test_failed_refresh_words() -> None:
    from blink_desktop.app.manager import failed_refresh
    from blink_desktop.basiq.models import StepResult

    unavailable = failed_refresh("Hooli", StepResult(code="system-unavailable", title="Down"))
    assert unavailable == "Hooli is not available right now (Basiq: Down). Try again later."
    assert "(connector-error)" in failed_refresh("Hooli", StepResult(code="connector-error"))

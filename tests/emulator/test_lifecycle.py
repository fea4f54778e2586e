"""The lifecycle controls in Python: break a connection, let time pass, expire every token."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from blink_desktop.emulator import Emulator, FakeClock, bankdata, catalogue
from blink_desktop.emulator.links import Links
from blink_desktop.emulator.views import iso
from tests.conftest import FAST, Api, step, step_status, wait_for
from tests.emulator.people import Person
from tests.emulator.test_data import all_transactions

DAY = 86400


def refresh(api: Api, user: str, connection: str) -> dict[str, Any]:
    """Refresh one connection; answer its job once settled, whichever way."""
    started = api.call("POST", f"/users/{user}/connections/{connection}/refresh", api.token())
    assert started.status_code == 202, started.text
    return settled(api, started.json()["id"])


def settled(api: Api, job_id: str) -> dict[str, Any]:
    def check() -> dict[str, Any] | None:
        job = api.job(job_id)
        done = step_status(job, "retrieve-transactions") == "success"
        return job if done or step_status(job, "verify-credentials") == "failed" else None

    return wait_for(check)


def status(api: Api, user: str, connection: str) -> str:
    path = f"/users/{user}/connections/{connection}"
    return str(api.call("GET", path, api.token()).json()["status"])


def event_types(emulator: Emulator) -> list[str]:
    return [row["type"] for row in emulator.state.all("SELECT type FROM events ORDER BY rowid")]


def test_a_broken_connection_fails_its_next_refresh_until_blinks_update_mode_fixes_it(
    emulator: Emulator, api: Api
) -> None:
    user = api.user()
    connection = api.connected(user)
    emulator.break_connection(connection)
    assert status(api, user, connection) == "active"  # the bank has not been asked yet
    for _ in range(2):  # and it stays broken, however often it is refreshed
        failed = refresh(api, user, connection)
        assert step(failed, "verify-credentials")["result"]["code"] == "invalid-credentials"
        assert status(api, user, connection) == "invalid"
    assert event_types(emulator).count("connection.invalidated") == 1
    # Blink's update mode posts the credentials again, to the connection's own address.
    body = {"loginId": "gavinBelson", "password": "hooli2016", "institution": {"id": "AU00000"}}
    path = f"/users/{user}/connections/{connection}"
    fixed = api.call("POST", path, api.token("CLIENT_ACCESS"), json=body)
    api.wait_job(fixed.json()["id"], "retrieve-transactions", "success")
    assert status(api, user, connection) == "active"
    assert step_status(refresh(api, user, connection), "retrieve-transactions") == "success"
    assert event_types(emulator)[-3:] == [
        "connection.activated",
        "transactions.updated",
        "transactions.updated",
    ]


def test_a_wrong_password_in_update_mode_leaves_it_broken(emulator: Emulator, api: Api) -> None:
    user = api.user()
    connection = api.connected(user)
    emulator.break_connection(connection)
    body = {"loginId": "gavinBelson", "password": "wrong"}
    path = f"/users/{user}/connections/{connection}"
    wrong = api.call("POST", path, api.token("CLIENT_ACCESS"), json=body)
    api.wait_job(wrong.json()["id"], "verify-credentials", "failed")
    assert status(api, user, connection) == "invalid"
    assert step_status(refresh(api, user, connection), "verify-credentials") == "failed"


def test_the_consent_ui_fixes_a_broken_connection_too(emulator: Emulator, api: Api) -> None:
    person = Person(api)
    person.accept()
    web = person.connected(person.log_in())
    banked = person.connected(person.authorise())
    for connection in (web, banked):
        emulator.break_connection(connection)
        assert step_status(refresh(api, person.user_id, connection), "verify-credentials") == (
            "failed"
        )
    update = person.start(connectionId=web, loginId="gavinBelson", password="hooli2016")
    person.connected(update.json()["id"])
    person.connected(person.start(connectionId=banked, authorisation="approved").json()["id"])
    for connection in (web, banked):
        assert status(api, person.user_id, connection) == "active"
        job = refresh(api, person.user_id, connection)
        assert step_status(job, "retrieve-transactions") == "success"


def test_refresh_all_fails_only_the_broken_one(emulator: Emulator, api: Api) -> None:
    user = api.user()
    kept = api.connected(user)
    broken = api.connected(user, login="jared", password="django")
    emulator.break_connection(broken)
    started = api.call("POST", f"/users/{user}/connections/refresh", api.token()).json()
    jobs = [settled(api, stub["id"]) for stub in started["data"]]
    assert sorted(step_status(job, "verify-credentials") or "" for job in jobs) == [
        "failed",
        "success",
    ]
    assert (status(api, user, kept), status(api, user, broken)) == ("active", "invalid")


def test_breaking_an_unknown_connection_is_a_lookup_error(emulator: Emulator) -> None:
    with pytest.raises(LookupError, match="no connection"):
        emulator.break_connection("no-such-connection")


def test_time_passing_brings_new_transactions_with_the_next_refresh(
    emulator: Emulator, api: Api
) -> None:
    user = api.user()
    connections = {api.connected(user), api.connected(user, login="jared", password="django")}
    server = api.token()
    before = all_transactions(api, user, server)
    before_accounts = api.call("GET", f"/users/{user}/accounts", server).json()["data"]
    now = emulator.pass_time(days=5)
    server = api.token()  # the one from five days ago has expired
    assert all_transactions(api, user, server) == before  # until the banks are asked again
    started = api.call("POST", f"/users/{user}/connections/refresh", server).json()
    for stub in started["data"]:
        settled(api, stub["id"])
    after = all_transactions(api, user, server)
    old = {row["id"]: row for row in before}
    new = [row for row in after if row["id"] not in old]
    for connection in connections:  # an everyday account moves about twice a day
        assert len([row for row in new if row["connection"] == connection]) >= 3
    last = max(row["postDate"] or row["transactionDate"] for row in before)
    assert all(last < (row["postDate"] or row["transactionDate"]) <= str(iso(now)) for row in new)
    for row in after:  # the old ones stay as they were, but pending ones have posted
        if row["id"] in old and old[row["id"]]["status"] == "posted":
            assert row == old[row["id"]]
    accounts = api.call("GET", f"/users/{user}/accounts", server).json()["data"]
    assert [a["id"] for a in accounts] == [a["id"] for a in before_accounts]
    for account in accounts:  # a balance is that of the account's newest transaction
        mine = [row for row in after if row["account"] == account["id"]]
        newest = max(mine, key=lambda row: row["postDate"] or row["transactionDate"])
        assert account["balance"] == newest["balance"]
        assert account["lastUpdated"] > before_accounts[0]["lastUpdated"]
    assert event_types(emulator).count("transactions.updated") == 4


def test_a_banks_data_is_a_function_of_the_connection_and_the_moment_it_is_read() -> None:
    connection = {"id": "c0ffee", "user_id": "u1", "created": 1_700_000_000.0}
    hooli, links = catalogue.find("AU00000"), Links("http://127.0.0.1:1")
    assert hooli is not None

    def read(days: float) -> list[dict[str, Any]]:
        moment = 1_700_000_000 + days * DAY
        _, transactions = bankdata.build(connection, hooli, "Gavin Belson", links, moment)
        return transactions

    assert read(0) == read(0)
    earlier, later = read(3), read(30)
    assert len(later) > len(earlier)
    posted_later = {row["id"]: row for row in later}
    for row in earlier:
        again = posted_later[row["id"]]
        assert (again["amount"], again["description"], again["account"]) == (
            row["amount"],
            row["description"],
            row["account"],
        )
        if row["status"] == "posted":
            assert again == row


def test_time_passed_expires_tokens_and_survives_a_restart(tmp_path: Path) -> None:
    clock = FakeClock(1_700_000_000)
    state = tmp_path / "emulator.db"
    with Emulator(clock=clock, state_path=state) as emulator:
        api = Api(emulator)
        token = api.token()
        assert emulator.pass_time(days=2, seconds=30) == 1_700_000_000 + 2 * DAY + 30
        assert api.call("GET", "/institutions", token).status_code == 403
    with Emulator(clock=clock, state_path=state, job_speed=FAST) as again:
        assert again.clock() == 1_700_000_000 + 2 * DAY + 30
        assert again.clock.passed == 2 * DAY + 30


@pytest.mark.parametrize(("days", "seconds"), [(-1, 0), (0, -1), (float("nan"), 0), (3651, 0)])
def test_time_passes_forward_and_not_too_far_at_once(
    emulator: Emulator, days: float, seconds: float
) -> None:
    before = emulator.clock()
    with pytest.raises(ValueError):
        emulator.pass_time(days, seconds=seconds)
    assert emulator.clock.passed == 0 and emulator.clock() >= before


def test_a_job_under_way_finishes_when_time_passes(clock: FakeClock, capi: Api) -> None:
    user = capi.user()
    job_id = capi.connect(user).json()["id"]
    capi.emulator.pass_time(seconds=10)
    assert step_status(capi.job(job_id), "retrieve-transactions") == "success"
    assert "transactions.updated" in event_types(capi.emulator)


def test_a_state_file_from_before_the_controls_is_brought_up_to_date(tmp_path: Path) -> None:
    state = tmp_path / "emulator.sqlite"
    with Emulator(state_path=state, job_speed=FAST) as emulator:
        api = Api(emulator)
        user = api.user()
        connection = api.connected(user)
    db = sqlite3.connect(state)  # as the release before the lifecycle controls wrote the file
    db.execute("ALTER TABLE connections DROP COLUMN broken")
    db.commit()
    db.close()
    with Emulator(state_path=state, job_speed=FAST) as emulator:
        api = Api(emulator)
        assert step_status(refresh(api, user, connection), "retrieve-transactions") == "success"
        emulator.break_connection(connection)
        assert step_status(refresh(api, user, connection), "verify-credentials") == "failed"

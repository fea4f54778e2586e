"""The ledger: schema 6 over older databases, accounts replaced, transactions upserted and
counted, filters and order, and a connection's rows going with it."""

from __future__ import annotations

import sqlite3
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from blink_desktop.app.ledger import Ledger
from blink_desktop.app.store import MIGRATIONS, Store
from blink_desktop.basiq.models import Account, AccountSummary, Transaction


def account(number: int, **fields: Any) -> Account:
    return Account.model_validate(
        {
            "id": f"acc-{number}",
            "name": f"Account {number}",
            "accountNo": f"12-3456 0000{number}",
            "balance": "100.50",
            "availableFunds": "90.00",
            "currency": "AUD",
            "class": {"type": "transaction", "product": "Everyday"},
            **fields,
        }
    )


def transaction(number: int, day: str, **fields: Any) -> Transaction:
    return Transaction.model_validate(
        {
            "id": f"txn-{number}",
            "status": "posted",
            "description": f"Purchase {number}",
            "amount": f"-{number}.10",
            "direction": "debit",
            "account": "acc-1",
            "postDate": f"{day}T10:00:{number % 60:02d}Z",
            "subClass": {"code": "411", "title": "Groceries"},
            **fields,
        }
    )


@pytest.fixture
def ledger(store: Store) -> Ledger:
    with store.writing("connections") as tx:
        for name in ("conn-1", "conn-2"):
            tx.upsert_connection(name, "user-1", None)
    return Ledger(store)


def test_schema_6_comes_over_an_older_database(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as db:
        for statements in MIGRATIONS[:5]:
            for statement in statements:
                db.execute(statement)
        db.execute("PRAGMA user_version = 5")
        db.execute(
            "INSERT INTO connections (id, basiq_user_id, status, created, updated, last_event)"
            " VALUES ('old', 'u', 'active', 't', 't', 'connection')"
        )
    db.close()
    store = Store(path)
    try:
        assert store.version == len(MIGRATIONS) >= 6
        assert Ledger(store).accounts("old") == []
        assert store.connection("old") is not None
    finally:
        store.close()


def test_accounts_are_replaced_and_a_gone_one_takes_its_transactions(ledger: Ledger) -> None:
    with ledger.writing("accounts") as tx:
        tx.replace_accounts("conn-1", [account(1), account(2)])
        tx.upsert_transactions(
            "conn-1",
            [transaction(1, "2026-01-02"), transaction(2, "2026-01-03", account="acc-2")],
        )
    [first, second] = ledger.accounts("conn-1")
    assert (first.id, first.number, first.balance, first.type) == (
        "acc-1",
        "••0001",
        "100.50",
        "transaction",
    )
    with ledger.writing("accounts") as tx:
        gone = tx.replace_accounts("conn-1", [account(2, balance="7.00")])
    assert gone == 1
    assert [a.balance for a in ledger.accounts("conn-1")] == ["7.00"]
    assert [t.id for t in ledger.transactions("conn-1")] == ["txn-2"]


def test_upsert_counts_what_is_new_and_what_changed(ledger: Ledger) -> None:
    pending = transaction(3, "2026-01-05", status="pending", postDate="")
    with ledger.writing("first") as tx:
        tx.replace_accounts("conn-1", [account(1)])
        added = tx.upsert_transactions("conn-1", [transaction(1, "2026-01-02"), pending])
        unknown = tx.upsert_transactions("conn-1", [transaction(9, "2026-01-02", account="x")])
    assert added == (2, 0)  # the one without any date is shown as of when it was fetched
    assert unknown == (0, 0)  # of an account the connection does not have: left out
    undated = {t.id: t for t in ledger.transactions("conn-1")}["txn-3"]
    assert undated.moment.startswith(undated.date)
    with_date = transaction(
        3, "2026-01-05", status="pending", postDate="", transactionDate="2026-01-05T08:00:00Z"
    )
    with ledger.writing("second") as tx:
        assert tx.upsert_transactions("conn-1", [transaction(1, "2026-01-02"), with_date]) == (
            0,
            1,
        )
        assert tx.upsert_transactions("conn-1", [transaction(3, "2026-01-06")]) == (0, 1)
    posted = {t.id: t for t in ledger.transactions("conn-1")}["txn-3"]
    assert (posted.status, posted.date, posted.amount) == ("posted", "2026-01-06", "-3.10")
    assert ledger.latest_posted("conn-1") == date(2026, 1, 6)


def test_filters_order_and_pages(ledger: Ledger) -> None:
    days = ["2026-01-01", "2026-01-10", "2026-01-05", "2026-01-20", "2026-01-15"]
    with ledger.writing("rows") as tx:
        tx.replace_accounts("conn-1", [account(1)])
        tx.replace_accounts("conn-2", [account(2)])
        tx.upsert_transactions("conn-1", [transaction(n, day) for n, day in enumerate(days)])
        tx.upsert_transactions("conn-2", [transaction(7, "2026-01-07", account="acc-2")])
    every = ledger.transactions()
    assert [t.date for t in every] == sorted((*days, "2026-01-07"), reverse=True)
    window = ledger.transactions(since=date(2026, 1, 5), until=date(2026, 1, 15))
    assert [t.date for t in window] == ["2026-01-15", "2026-01-10", "2026-01-07", "2026-01-05"]
    assert [t.id for t in ledger.transactions(account_id="acc-2")] == ["txn-7"]
    assert ledger.transactions(limit=2, offset=1) == every[1:3]
    assert ledger.count("conn-1", since=date(2026, 1, 10)) == 3
    assert AccountSummary(accountNo="").masked_number is None
    assert AccountSummary(accountNo="12 3456 7890").masked_number == "••7890"


def test_a_removed_connection_takes_its_data_and_nothing_else(ledger: Ledger) -> None:
    with ledger.writing("rows") as tx:
        tx.replace_accounts("conn-1", [account(1)])
        tx.replace_accounts("conn-2", [account(2)])
        tx.upsert_transactions("conn-1", [transaction(1, "2026-01-01")])
        tx.upsert_transactions("conn-2", [transaction(2, "2026-01-01", account="acc-2")])
        tx.mark_fetched("conn-1")
        tx.mark_fetched("conn-2")
    with ledger.store.writing("removal") as tx:
        tx.remove_connection("conn-1")
    assert ledger.accounts("conn-1") == [] and ledger.transactions("conn-1") == []
    assert ledger.fetched("conn-1") is None
    assert [t.id for t in ledger.transactions()] == ["txn-2"]
    assert ledger.fetched("conn-2") is not None

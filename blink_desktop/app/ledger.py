"""The app's cached accounts and transactions: typed reads, and the writes that keep them.

The window and the command line show what is here at once, offline too, marked with when it
was fetched; app/manager.py decides when to fetch and what to write. The tables are schema 6
(ledger_tables.py). A connection's rows go with it, whichever path deletes the connection
(Writer.remove_connection, ON DELETE CASCADE).
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import date
from typing import Any

from blink_desktop.app.store import Store, Writer, storable
from blink_desktop.basiq.models import Account, Transaction


@dataclass(frozen=True)
class StoredAccount:
    id: str
    connection_id: str
    name: str
    number: str | None  # masked: "••1234"
    type: str | None  # Basiq's class.type: transaction, savings, credit-card, mortgage…
    product: str | None
    balance: str | None  # decimal strings, as Basiq gives them; a card's or loan's negative
    available: str | None
    currency: str | None
    status: str | None
    last_updated: str | None


@dataclass(frozen=True)
class StoredTransaction:
    id: str
    account_id: str
    connection_id: str
    date: str  # YYYY-MM-DD: posted, or made while pending
    description: str
    amount: str  # a decimal string; negative is money out
    direction: str  # credit or debit
    category: str | None  # Basiq's subClass title, where it gives one
    status: str | None  # pending or posted
    kind: str | None  # Basiq's class: payment, transfer, bank-fee…
    moment: str  # the full time, for the order within a day
    balance: str | None  # the account's, after it


@dataclass(frozen=True)
class Fetched:
    connection_id: str
    fetched: str  # when its accounts and transactions were last fetched
    refreshed: str | None  # when a refresh by this app last succeeded at Basiq


def _day(moment: str) -> str:
    return moment[:10]


class LedgerWriter(Writer):
    """The ledger's typed writes, in the store's transaction."""

    def replace_accounts(self, connection_id: str, accounts: Sequence[Account]) -> int:
        """Keep exactly these accounts for the connection; those gone go with their
        transactions. Answer how many went."""
        for position, account in enumerate(accounts):
            self._db.execute(
                "INSERT INTO accounts (id, connection_id, position, name, number, type, product,"
                " balance, available, currency, status, last_updated)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (id) DO UPDATE SET connection_id = excluded.connection_id,"
                " position = excluded.position, name = excluded.name,"
                " number = excluded.number, type = excluded.type, product = excluded.product,"
                " balance = excluded.balance, available = excluded.available,"
                " currency = excluded.currency, status = excluded.status,"
                " last_updated = excluded.last_updated",
                (
                    storable(account.id, 200),
                    connection_id,
                    position,
                    storable(account.name or "Account", 200),
                    account.masked_number,
                    _text(account.kind, 40),
                    _text(account.class_.product, 200),
                    _money(account.balance),
                    _money(account.availableFunds),
                    _text(account.currency, 10),
                    _text(account.status, 40),
                    account.lastUpdated.isoformat() if account.lastUpdated else None,
                ),
            )
        kept = [storable(account.id, 200) for account in accounts]
        gone = self._db.execute(
            f"DELETE FROM accounts WHERE connection_id = ? AND id NOT IN ({_marks(kept)})",
            (connection_id, *kept),
        )
        return max(gone.rowcount, 0)

    def upsert_transactions(
        self, connection_id: str, transactions: Sequence[Transaction]
    ) -> tuple[int, int]:
        """Add the new ones and update those that changed (a pending one posting): (added,
        updated). One whose account the connection does not have is left out."""
        accounts = {
            row[0]
            for row in self._db.execute(
                "SELECT id FROM accounts WHERE connection_id = ?", (connection_id,)
            )
        }
        known = {
            row[0]: tuple(row[1:])
            for row in self._db.execute(
                f"SELECT id, {', '.join(_CHANGES)} FROM transactions WHERE connection_id = ?",
                (connection_id,),
            )
        }
        added = updated = 0
        for transaction in transactions:
            if transaction.account not in accounts:
                continue
            row = self._row(transaction)
            values = tuple(row[column] for column in _CHANGES)
            before = known.get(row["id"])
            if before == values:
                continue
            self._db.execute(
                f"INSERT INTO transactions (id, account_id, connection_id, {', '.join(_CHANGES)})"
                f" VALUES (?, ?, ?, {_marks(_CHANGES)}) ON CONFLICT (id) DO UPDATE SET "
                + ", ".join(f"{column} = excluded.{column}" for column in _CHANGES),
                (row["id"], transaction.account, connection_id, *values),
            )
            added += before is None
            updated += before is not None
        return added, updated

    def remove_transactions(self, connection_id: str, ids: Sequence[str]) -> int:
        """Forget these of the connection's transactions (Basiq no longer lists them)."""
        removed = 0
        for start in range(0, len(ids), 500):
            chunk = list(ids[start : start + 500])
            removed += self._db.execute(
                f"DELETE FROM transactions WHERE connection_id = ? AND id IN ({_marks(chunk)})",
                (connection_id, *chunk),
            ).rowcount
        return removed

    def mark_fetched(self, connection_id: str) -> None:
        self._db.execute(
            "INSERT INTO fetches (connection_id, fetched) VALUES (?, ?)"
            " ON CONFLICT (connection_id) DO UPDATE SET fetched = excluded.fetched",
            (connection_id, self.stamp),
        )

    def mark_refreshed(self, connection_id: str) -> None:
        """Basiq asked the bank again for it, successfully, now (a fetch follows)."""
        self._db.execute(
            "INSERT INTO fetches (connection_id, fetched, refreshed) VALUES (?, '', ?)"
            " ON CONFLICT (connection_id) DO UPDATE SET refreshed = excluded.refreshed",
            (connection_id, self.stamp),
        )

    def _row(self, transaction: Transaction) -> dict[str, Any]:
        when = transaction.date
        # A transaction with no date at all is shown as of when it was fetched.
        moment = when.isoformat().replace("+00:00", "Z") if when else self.stamp
        return {
            "id": storable(transaction.id, 200),
            "moment": moment,
            "date": _day(moment),
            "description": storable(transaction.description, 1000),
            "amount": str(transaction.amount),
            "direction": "credit" if transaction.credit else "debit",
            "category": _text(transaction.category, 200),
            "kind": _text(transaction.class_, 40),
            "status": _text(transaction.status, 40),
            "balance": _money(transaction.balance),
        }


_CHANGES = (
    "moment",
    "date",
    "description",
    "amount",
    "direction",
    "category",
    "kind",
    "status",
    "balance",
)


def _marks(values: Sequence[object]) -> str:
    return ", ".join("?" for _ in values) or "NULL"


def _text(value: str | None, limit: int) -> str | None:
    return storable(value, limit) if value else None


def _money(value: object) -> str | None:
    return None if value is None else str(value)


class Ledger:
    """Reads of the cached accounts and transactions, and a transaction to write them."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def writing(self, what: str) -> AbstractContextManager[LedgerWriter]:
        return self.store.writing_as(what, LedgerWriter)

    def accounts(self, connection_id: str | None = None) -> list[StoredAccount]:
        """A connection's accounts in Basiq's order, or every connection's, newest first."""
        sql = (
            "SELECT a.* FROM accounts AS a JOIN connections AS c ON c.id = a.connection_id"
            " {} ORDER BY c.created DESC, c.id, a.position"
        )
        rows = (
            self.store.read(sql.format("WHERE a.connection_id = ?"), connection_id)
            if connection_id is not None
            else self.store.read(sql.format(""))
        )
        return _accounts(rows)

    def account(self, account_id: str) -> StoredAccount | None:
        found = _accounts(self.store.read("SELECT * FROM accounts WHERE id = ?", account_id))
        return found[0] if found else None

    def transactions(
        self,
        connection_id: str | None = None,
        account_id: str | None = None,
        since: date | None = None,
        until: date | None = None,
        *,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[StoredTransaction]:
        """Newest first; `since` and `until` are days, both included."""
        where, args = _where(connection_id, account_id, since, until)
        sql = f"SELECT * FROM transactions {where} ORDER BY moment DESC, id"
        if limit is not None:
            sql += " LIMIT ? OFFSET ?"
            args += [limit, offset]
        return [
            StoredTransaction(**{name: row[name] for name in _TRANSACTION_FIELDS})
            for row in self.store.read(sql, *args)
        ]

    def count(
        self,
        connection_id: str | None = None,
        account_id: str | None = None,
        since: date | None = None,
        until: date | None = None,
    ) -> int:
        where, args = _where(connection_id, account_id, since, until)
        return int(self.store.read(f"SELECT COUNT(*) FROM transactions {where}", *args)[0][0])

    def fetched(self, connection_id: str) -> Fetched | None:
        rows = self.store.read("SELECT * FROM fetches WHERE connection_id = ?", connection_id)
        if not rows:
            return None
        row = rows[0]
        return Fetched(connection_id, row["fetched"], row["refreshed"])

    def latest_posted(self, connection_id: str) -> date | None:
        """The day of the connection's newest posted transaction, where an incremental fetch
        picks up."""
        rows = self.store.read(
            "SELECT MAX(date) FROM transactions WHERE connection_id = ? AND status IS NOT"
            " 'pending'",
            connection_id,
        )
        return date.fromisoformat(rows[0][0]) if rows and rows[0][0] else None

    def earliest_pending(self, connection_id: str) -> date | None:
        rows = self.store.read(
            "SELECT MIN(date) FROM transactions WHERE connection_id = ? AND status = 'pending'",
            connection_id,
        )
        return date.fromisoformat(rows[0][0]) if rows and rows[0][0] else None

    def ids(self, connection_id: str, *, since: date | None = None) -> set[str]:
        """The ids of a connection's transactions: all, or those of `since` on and pending."""
        if since is None:
            rows = self.store.read(
                "SELECT id FROM transactions WHERE connection_id = ?", connection_id
            )
        else:
            rows = self.store.read(
                "SELECT id FROM transactions WHERE connection_id = ?"
                " AND (date >= ? OR status = 'pending')",
                connection_id,
                since.isoformat(),
            )
        return {row[0] for row in rows}


_ACCOUNT_FIELDS = (
    "id",
    "name",
    "number",
    "type",
    "product",
    "balance",
    "available",
    "currency",
    "status",
    "last_updated",
)
_TRANSACTION_FIELDS = ("id", "account_id", "connection_id", *_CHANGES)


def _accounts(rows: Sequence[Any]) -> list[StoredAccount]:
    return [
        StoredAccount(
            **{name: row[name] for name in _ACCOUNT_FIELDS}, connection_id=row["connection_id"]
        )
        for row in rows
    ]


def _where(
    connection_id: str | None, account_id: str | None, since: date | None, until: date | None
) -> tuple[str, list[Any]]:
    conditions: list[str] = []
    args: list[Any] = []
    for column, value in (("connection_id", connection_id), ("account_id", account_id)):
        if value is not None:
            conditions.append(f"{column} = ?")
            args.append(value)
    if since is not None:
        conditions.append("date >= ?")
        args.append(since.isoformat())
    if until is not None:
        conditions.append("date <= ?")
        args.append(until.isoformat())
    return ("WHERE " + " AND ".join(conditions) if conditions else ""), args

"""Schema 6 of the app's database (app/store.py's MIGRATIONS): the cached accounts and
transactions (app/ledger.py), and when each connection's were fetched and refreshed.

Amounts and balances are Basiq's decimal strings, kept as text so nothing is rounded; `moment`
is when a transaction was posted (or made, while pending), `date` its day, for the filters.
Foreign keys (on in Store) delete a connection's rows with it, whichever path deletes it.
"""

from __future__ import annotations

LEDGER_TABLES: tuple[str, ...] = (
    """CREATE TABLE accounts (
        id TEXT PRIMARY KEY,
        connection_id TEXT NOT NULL REFERENCES connections (id) ON DELETE CASCADE,
        position INTEGER NOT NULL,
        name TEXT NOT NULL,
        number TEXT,
        type TEXT,
        product TEXT,
        balance TEXT,
        available TEXT,
        currency TEXT,
        status TEXT,
        last_updated TEXT
    )""",
    "CREATE INDEX accounts_by_connection ON accounts (connection_id, position)",
    """CREATE TABLE transactions (
        id TEXT PRIMARY KEY,
        account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
        connection_id TEXT NOT NULL REFERENCES connections (id) ON DELETE CASCADE,
        moment TEXT NOT NULL,
        date TEXT NOT NULL,
        description TEXT NOT NULL,
        amount TEXT NOT NULL,
        direction TEXT NOT NULL,
        category TEXT,
        kind TEXT,
        status TEXT,
        balance TEXT
    )""",
    "CREATE INDEX transactions_by_time ON transactions (moment DESC, id)",
    "CREATE INDEX transactions_by_connection ON transactions (connection_id, moment DESC)",
    "CREATE INDEX transactions_by_account ON transactions (account_id, moment DESC)",
    """CREATE TABLE fetches (
        connection_id TEXT PRIMARY KEY REFERENCES connections (id) ON DELETE CASCADE,
        fetched TEXT NOT NULL,
        refreshed TEXT
    )""",
)

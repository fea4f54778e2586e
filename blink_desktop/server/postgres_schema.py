"""The reference server's tables on PostgreSQL, and migrating to them.

Migrations run at start in one transaction that first takes an advisory lock: instances
starting at once migrate one after the other, and the later ones find nothing to do. DDL is
transactional here, so a migration that fails leaves nothing half done. `TABLE` holds the
schema's version, the number of entries of `MIGRATIONS` applied.
"""

from __future__ import annotations

from typing import Any

import psycopg

from blink_desktop.errors import StoreError

TABLE = "blink_desktop_schema"
# An advisory lock is a (namespace, key) pair; this namespace spells "Blnk".
MIGRATION_LOCK = (0x426C6E6B, 0)

MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE users (
            identifier text PRIMARY KEY,
            basiq_user_id text NOT NULL,
            created timestamptz NOT NULL
        )""",
        """CREATE TABLE reported_connections (
            connection_id text PRIMARY KEY,
            basiq_user_id text NOT NULL,
            reported timestamptz NOT NULL,
            updated timestamptz NOT NULL
        )""",
        "CREATE INDEX reported_connections_by_user"
        " ON reported_connections (basiq_user_id, reported DESC, connection_id)",
    ),
    (
        # The webhook-id is the key: one delivered to two instances at once is one row.
        """CREATE TABLE webhooks (
            message_id text PRIMARY KEY,
            seq bigint GENERATED ALWAYS AS IDENTITY,
            event_id text NOT NULL,
            event_type text NOT NULL,
            basiq_user_id text,
            connection_id text,
            received timestamptz NOT NULL,
            occurred timestamptz,
            resolved timestamptz,
            attempts integer NOT NULL DEFAULT 0,
            resolve_after timestamptz NOT NULL,
            body text NOT NULL
        )""",
        "CREATE INDEX webhooks_by_user ON webhooks (basiq_user_id, connection_id)",
        "CREATE INDEX webhooks_unresolved ON webhooks (resolve_after) WHERE resolved IS NULL",
    ),
    (
        # Which clients asked for each user: its data is theirs alone.
        """CREATE TABLE user_clients (
            basiq_user_id text NOT NULL,
            client text NOT NULL,
            admitted timestamptz NOT NULL,
            PRIMARY KEY (basiq_user_id, client)
        )""",
    ),
)
VERSION = len(MIGRATIONS)


def migrate(conn: psycopg.Connection[Any], where: str) -> int:
    """Bring the database to VERSION; the version migrated to, or 0 if it was there already.
    psycopg's errors are left to the caller."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s, %s)", MIGRATION_LOCK)
        exists = conn.execute("SELECT to_regclass(%s)", (TABLE,)).fetchone()
        current = 0
        if exists and exists[0] is not None:
            row = conn.execute(f"SELECT version FROM {TABLE}").fetchone()
            current = int(row[0]) if row else 0
        else:
            conn.execute(f"CREATE TABLE {TABLE} (version integer NOT NULL)")
        if current > VERSION:
            raise StoreError(
                f"The server's database at {where} was written by a newer blink-desktop "
                f"(schema {current}); update blink-desktop."
            )
        if current == VERSION:
            return 0
        for statements in MIGRATIONS[current:]:
            for statement in statements:
                conn.execute(statement)
        conn.execute(f"DELETE FROM {TABLE}")
        conn.execute(f"INSERT INTO {TABLE} (version) VALUES (%s)", (VERSION,))
    return VERSION

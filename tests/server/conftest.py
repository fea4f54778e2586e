"""The reference server's fixtures: its database on each engine (a SQLite file, or a schema
in a real PostgreSQL started once per session), a running server whose upstream is the
emulator, and a database file as the previous version of the server left it."""

from __future__ import annotations

import base64
import json
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
import requests

from blink_desktop.emulator import Emulator
from blink_desktop.server import Server, build_server
from blink_desktop.settings import load_settings
from tests.conftest import serving
from tests.server.database import Postgres

CLIENT = "desktop-app-1"

# The desktop app's schema, versions 1 to 3, in which the previous server kept its records.
APP_SCHEMA: list[tuple[str, ...]] = [
    (
        "CREATE TABLE users (identifier TEXT PRIMARY KEY, basiq_user_id TEXT NOT NULL,"
        " created TEXT NOT NULL)",
        "CREATE TABLE connections (id TEXT PRIMARY KEY, basiq_user_id TEXT NOT NULL,"
        " institution TEXT, status TEXT NOT NULL, created TEXT NOT NULL, updated TEXT NOT NULL,"
        " last_event TEXT NOT NULL)",
        "CREATE TABLE events (seq INTEGER PRIMARY KEY AUTOINCREMENT, received TEXT NOT NULL,"
        " origin TEXT NOT NULL, event TEXT, payload TEXT NOT NULL, accepted INTEGER NOT NULL,"
        " reason TEXT)",
    ),
    (
        "ALTER TABLE events ADD COLUMN job_id TEXT",
        "ALTER TABLE connections ADD COLUMN job_id TEXT",
        "ALTER TABLE connections ADD COLUMN logo TEXT",
    ),
    (
        "CREATE TABLE outbox (id INTEGER PRIMARY KEY AUTOINCREMENT,"
        " connection_id TEXT NOT NULL UNIQUE, basiq_user_id TEXT NOT NULL, created TEXT NOT NULL,"
        " attempts INTEGER NOT NULL DEFAULT 0, next_attempt REAL NOT NULL DEFAULT 0,"
        " last_error TEXT)",
    ),
]


def previous_servers_file(path: Path, version: int = 3) -> None:
    """A server.sqlite as the previous server left it: users, and connections it was told of."""
    db = sqlite3.connect(path)
    for migration in APP_SCHEMA[:version]:
        for statement in migration:
            db.execute(statement)
    db.execute(f"PRAGMA user_version = {version}")
    db.executemany(
        "INSERT INTO users VALUES (?, ?, ?)",
        [("me@x.co", "u1", "2026-01-01T00:00:00.000Z"), ("you@x.co", "u2", "2026-01-02")],
    )
    db.executemany(
        "INSERT INTO connections (id, basiq_user_id, status, created, updated, last_event)"
        " VALUES (?, ?, 'reported', ?, ?, 'report')",
        [
            ("c1", "u1", "2026-01-03T00:00:00.000Z", "2026-01-05T00:00:00.000Z"),
            ("c2", "u1", "2026-01-04T00:00:00.000Z", "2026-01-04T00:00:00.000Z"),
            ("c3", "u2", "2026-01-04T00:00:00.000Z", "2026-01-04T00:00:00.000Z"),
        ],
    )
    db.commit()
    db.close()


class Running:
    """A server being served, and the way apps call it."""

    def __init__(self, server: Server, url: str) -> None:
        self.server = server
        self.url = url

    def post(self, path: str, body: Any, **headers: str) -> requests.Response:
        return requests.post(self.url + path, json=body, headers=headers, timeout=10)

    def get(self, path: str, **headers: str) -> requests.Response:
        return requests.get(self.url + path, headers=headers, timeout=10)


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    """One PostgreSQL for the whole session (it takes a second or two to start)."""
    server = Postgres()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Path | str:
    """Where a test's server keeps its records, on each engine: empty, the test's own."""
    if request.param == "sqlite":
        return tmp_path / "server.sqlite"
    postgres: Postgres = request.getfixturevalue("postgres")
    return postgres.new_schema()


@pytest.fixture
def serve(emulator: Emulator, database: Path | str) -> Iterator[Callable[..., Running]]:
    with ExitStack() as stack:

        def start(
            version: str = "2.1",
            api_key: str | None = None,
            client_ids: Sequence[str] = (CLIENT,),
            **more: Any,
        ) -> Running:
            settings = load_settings(
                api_key=api_key or emulator.api_key,
                api_url=emulator.url,
                client_ids=list(client_ids),
                basiq_version=version,
                **more,
            )
            server = build_server(settings, database=database)
            stack.callback(server.close)
            return Running(server, stack.enter_context(serving(server.app)))

        yield start


def claims(token: str) -> dict[str, Any]:
    part = token.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))))

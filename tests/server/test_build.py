"""Putting the server together: settings, the upstream choice, the production factory."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import requests

from blink_desktop import server
from blink_desktop.emulator import Emulator
from blink_desktop.errors import BlinkError, SettingsError, StoreError
from blink_desktop.server import build_server
from blink_desktop.server.postgres import PostgresStore
from blink_desktop.server.sqlite import SqliteStore
from blink_desktop.server.store import is_postgres_url, open_store
from blink_desktop.settings import load_settings
from tests.conftest import serving
from tests.server.conftest import CLIENT, previous_servers_file
from tests.server.database import Postgres


def test_server_without_client_ids_or_key_is_a_settings_error(
    emulator: Emulator, tmp_path: Path
) -> None:
    with pytest.raises(BlinkError, match="client id"):
        build_server(
            load_settings(api_key=emulator.api_key, api_url=emulator.url), database=tmp_path / "a"
        )
    assert not (tmp_path / "a").exists()  # refused before anything was opened or started
    with pytest.raises(SettingsError, match="API key"):
        build_server(
            load_settings(client_ids=[CLIENT]), upstream=emulator.url, database=tmp_path / "b"
        )
    with pytest.raises(SettingsError, match="API key"):
        build_server(
            load_settings(client_ids=[CLIENT]), database=tmp_path / "c", allow_emulator=False
        )
    with pytest.raises(SettingsError, match="BLINK_DESKTOP_API_URL is set but there is no API key"):
        build_server(
            load_settings(client_ids=[CLIENT], api_url=emulator.url), database=tmp_path / "d"
        )
    assert not list(tmp_path.glob("*-emulator.sqlite"))


def test_with_a_key_the_upstream_is_basiq_or_the_url_given(
    emulator: Emulator, tmp_path: Path
) -> None:
    settings = load_settings(api_key=emulator.api_key, client_ids=[CLIENT])
    built = build_server(settings, database=tmp_path / "server.sqlite")
    try:
        assert (built.upstream.api_url, built.emulated) == ("https://au-api.basiq.io", False)
    finally:
        built.close()
    built = build_server(settings, upstream=emulator.url, database=tmp_path / "server.sqlite")
    try:
        assert (built.upstream.api_url, built.emulated) == (emulator.url, False)
        with serving(built.app) as url:
            reply = requests.post(
                f"{url}/user", json={"email": "a@b.co", "client_id": CLIENT}, timeout=10
            )
        assert reply.json()["success"] is True
        assert emulator.state.count_users() == 1
    finally:
        built.close()


def test_the_production_factory_reads_the_environment(
    emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BLINK_DESKTOP_CLIENT_IDS", f"{CLIENT}, other")
    with pytest.raises(SettingsError, match="API key"):
        server.wsgi()  # no key: a production server never falls back to an emulator
    monkeypatch.setenv("BLINK_DESKTOP_API_KEY", emulator.api_key)
    monkeypatch.setenv("BLINK_DESKTOP_API_URL", emulator.url)
    with serving(server.wsgi()) as url:
        reply = requests.post(
            f"{url}/user", json={"email": "a@b.co", "client_id": "other"}, timeout=10
        )
        assert reply.json()["success"] is True


def test_serve_without_a_key_starts_on_a_fresh_data_dir(tmp_path: Path) -> None:
    settings = load_settings(client_ids=[CLIENT], data_dir=tmp_path / "new" / "dir")
    built = build_server(settings)
    try:
        assert built.emulated
        assert built.upstream.emulated
        assert (tmp_path / "new" / "dir" / "server.sqlite").exists()
        assert (tmp_path / "new" / "dir" / "server-emulator.sqlite").exists()
        with serving(built.app) as url:
            reply = requests.post(
                f"{url}/user", json={"email": "a@b.co", "client_id": CLIENT}, timeout=10
            )
        assert reply.json()["success"] is True
    finally:
        built.close()
    with pytest.raises(requests.ConnectionError):  # close() stopped the embedded emulator
        requests.get(built.upstream.api_url + "/institutions", timeout=2)


def test_the_previous_versions_database_is_served_as_it_was(
    emulator: Emulator, tmp_path: Path
) -> None:
    """Upgrading keeps who is who at Basiq and what apps reported."""
    previous_servers_file(tmp_path / "server.sqlite")
    settings = load_settings(api_key=emulator.api_key, api_url=emulator.url, client_ids=[CLIENT])
    built = build_server(settings, database=tmp_path / "server.sqlite")
    try:
        with serving(built.app) as url:
            user = requests.post(
                f"{url}/user", json={"email": "Me@X.co", "client_id": CLIENT}, timeout=10
            )
            listed = requests.get(
                f"{url}/users/u1/connections", headers={"X-Client-Id": CLIENT}, timeout=10
            )
    finally:
        built.close()
    assert user.json()["result"]["id"] == "u1"
    assert emulator.state.count_users() == 0  # known already: Basiq was not asked
    assert [item["id"] for item in listed.json()["result"]] == ["c2", "c1"]


def test_the_database_url_chooses_postgresql(
    emulator: Emulator, postgres: Postgres, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("BLINK_DESKTOP_DATABASE_URL", postgres.new_schema())
    monkeypatch.setenv("BLINK_DESKTOP_CLIENT_IDS", CLIENT)
    monkeypatch.setenv("BLINK_DESKTOP_API_KEY", emulator.api_key)
    monkeypatch.setenv("BLINK_DESKTOP_API_URL", emulator.url)
    built = build_server(load_settings())
    try:
        assert isinstance(built.store, PostgresStore)
        with serving(built.app) as url:
            reply = requests.post(
                f"{url}/user", json={"email": "a@b.co", "client_id": CLIENT}, timeout=10
            )
        assert built.store.basiq_user("a@b.co") == reply.json()["result"]["id"]
    finally:
        built.close()
    assert not (tmp_path / "data" / "server.sqlite").exists()
    # --db (build_server's database) wins over the setting.
    built = build_server(load_settings(), database=tmp_path / "file.sqlite")
    try:
        assert isinstance(built.store, SqliteStore)
    finally:
        built.close()


@pytest.mark.parametrize(
    ("value", "engine"),
    [
        (" postgres://u:p@db/blink ", "postgresql"),
        ("/srv/blink/server.sqlite", "sqlite"),
        ("", None),
    ],
)
def test_the_database_url_is_a_path_or_a_postgresql_url(
    monkeypatch: pytest.MonkeyPatch, value: str, engine: str | None
) -> None:
    monkeypatch.setenv("BLINK_DESKTOP_DATABASE_URL", value)
    url = load_settings().database_url
    assert url == (value.strip() or None)
    assert (url and ("postgresql" if is_postgres_url(url) else "sqlite")) == engine


def test_another_kind_of_url_is_refused_without_showing_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("BLINK_DESKTOP_DATABASE_URL", "mysql://me:hunter2@db/blink")
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert "BLINK_DESKTOP_DATABASE_URL" in str(caught.value)
    assert "postgresql://" in str(caught.value) and "hunter2" not in str(caught.value)


def test_postgresql_without_psycopg_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """As in the desktop bundle, which leaves the server's PostgreSQL engine out."""
    monkeypatch.setitem(sys.modules, "blink_desktop.server.postgres", None)
    with pytest.raises(StoreError, match=r"pip install 'blink-desktop\[server\]'"):
        open_store("postgresql://me:hunter2@db/blink")

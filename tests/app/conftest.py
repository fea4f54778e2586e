"""The desktop app's fixtures: a store in a temporary folder, the connect service on the
emulator, and the bridge in front of it, as the window wires them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from blink_desktop.app.bridge import Bridge
from blink_desktop.app.connect import ConnectService
from blink_desktop.app.store import Store
from blink_desktop.basiq.client import BasiqClient
from blink_desktop.basiq.keyholder import KeyHolder
from blink_desktop.emulator import Emulator

TOKEN = "bridge-token"
ORIGIN = "http://127.0.0.1:1"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    store = Store(tmp_path / "blink.db")
    yield store
    store.close()


def connect_service(emulator: Emulator, store: Store, client: BasiqClient) -> ConnectService:
    """The connect service as the window builds it on the embedded emulator."""
    provider = KeyHolder(client, emulator.api_key, known_users=store.basiq_user)
    return ConnectService(
        provider,
        client,
        store,
        blink_url=f"{emulator.url}/index.html",
        blink_origin=emulator.url,
        identifier="gavin@hooli.com",
        emulated=True,
    )


@pytest.fixture
def service(emulator: Emulator, store: Store) -> ConnectService:
    return connect_service(emulator, store, BasiqClient(emulator.url))


@pytest.fixture
def bridge(service: ConnectService) -> Bridge:
    return Bridge(service, TOKEN)


def message(event: str, payload: Any = None) -> dict[str, Any]:
    body: dict[str, Any] = {"event": event}
    if payload is not None:
        body["payload"] = payload
    return {"origin": ORIGIN, "data": json.dumps(body)}

"""The bridge: the token check on every call, JSON replies, errors a person can act on."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from blink_desktop.app.bridge import Bridge
from blink_desktop.app.connect import ConnectService
from blink_desktop.app.store import Store
from blink_desktop.basiq.client import BasiqClient
from blink_desktop.basiq.keyholder import KeyHolder
from blink_desktop.emulator import Emulator, Fault
from tests.app.conftest import TOKEN, message


def test_wrong_token_is_refused_by_every_method(bridge: Bridge, store: Store) -> None:
    calls: list[Callable[[Any], dict[str, Any]]] = [
        lambda token: bridge.bootstrap(token),
        lambda token: bridge.set_identifier(token, "x@y.co"),
        lambda token: bridge.start_connect(token),
        lambda token: bridge.receive(token, message("cancellation")),
        lambda token: bridge.progress(token, "job"),
        lambda token: bridge.connections(token),
        lambda token: bridge.reconcile(token),
        lambda token: bridge.dropped(token, "x"),
    ]
    for call in calls:
        for token in ("wrong", "", None, 42, TOKEN + "x"):
            assert call(token) == {
                "ok": False,
                "error": "Refused: this call did not come from the app's own page.",
            }
    assert store.events() == []


def test_bootstrap_never_exposes_the_api_key(bridge: Bridge, emulator: Emulator) -> None:
    bridge.start_connect(TOKEN)
    for reply in (bridge.bootstrap(TOKEN), bridge.connections(TOKEN)):
        assert emulator.api_key not in json.dumps(reply)


def test_dead_network_is_an_error_with_retry(store: Store, tmp_path: Path) -> None:
    client = BasiqClient("http://127.0.0.1:9")  # nothing listens on the discard port
    service = ConnectService(
        KeyHolder(client, "secret-key"), client, store,
        blink_url="http://127.0.0.1:9/index.html", blink_origin="http://127.0.0.1:9",
        identifier="me@x.co",
    )  # fmt: skip
    reply = Bridge(service, TOKEN).start_connect(TOKEN)
    assert reply["ok"] is False and reply["retry"] is True
    assert "Cannot reach the Basiq API" in reply["error"]
    assert "secret-key" not in reply["error"]


def test_upstream_503_is_retried_then_reported(emulator: Emulator, bridge: Bridge) -> None:
    emulator.faults.add(Fault(route="POST /token", status=503, times=2))
    assert bridge.start_connect(TOKEN)["ok"] is True  # urllib3 retried past two 503s
    emulator.faults.add(Fault(route="POST /token", status=503))
    reply = bridge.start_connect(TOKEN)
    assert reply["ok"] is False and reply["retry"] is True
    assert "503" in reply["error"]


def test_any_token_the_page_sends_is_refused_without_raising(bridge: Bridge, store: Store) -> None:
    tokens: list[Any] = ["é", "\ud800", TOKEN + "é", "t" * 10_000, b"bytes", ["list"], {"a": 1}]
    for token in tokens:
        assert bridge.bootstrap(token)["ok"] is False
        assert bridge.receive(token, message("cancellation"))["ok"] is False
    assert store.events() == []


def test_a_full_disk_says_what_was_not_saved_and_offers_a_retry(
    bridge: Bridge, store: Store
) -> None:
    assert bridge.receive(TOKEN, message("handshake", {"success": True}))["accepted"] is True
    pages = store._db.execute("PRAGMA page_count").fetchone()[0]
    store._db.execute(f"PRAGMA max_page_count = {pages}")  # the disk is now "full"
    reply = bridge.receive(TOKEN, {"origin": "x", "data": "y" * 60_000})
    assert reply["ok"] is False and reply["retry"] is True
    assert "Could not save the event" in reply["error"]
    assert "it was not saved" in reply["error"]
    assert len(store.events()) == 1  # what was stored before is still there

"""The bridge and what stands behind it: validation, the token check, the server role."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from blink_desktop.api_client import BasiqClient
from blink_desktop.bridge import Bridge
from blink_desktop.emulator import Emulator, Fault
from blink_desktop.models import Rejected, parse_event
from blink_desktop.providers import DirectProvider
from blink_desktop.services import ConnectService
from blink_desktop.store import Store
from tests.conftest import Api

TOKEN = "bridge-token"
ORIGIN = "http://127.0.0.1:1"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    store = Store(tmp_path / "blink.db")
    yield store
    store.close()


@pytest.fixture
def service(emulator: Emulator, store: Store) -> ConnectService:
    client = BasiqClient(emulator.url)
    provider = DirectProvider(client, emulator.api_key, known_users=store.basiq_user)
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
def bridge(service: ConnectService) -> Bridge:
    return Bridge(service, TOKEN)


def message(event: str, payload: Any = None) -> dict[str, Any]:
    body: dict[str, Any] = {"event": event}
    if payload is not None:
        body["payload"] = payload
    return {"origin": ORIGIN, "data": json.dumps(body)}


def test_start_connect_gives_blink_url_with_user_and_client_token(
    bridge: Bridge, emulator: Emulator, store: Store
) -> None:
    started = bridge.start_connect(TOKEN, "http://127.0.0.1:5")
    assert started["ok"] is True
    url = urlsplit(started["url"])
    query = parse_qs(url.query)
    assert f"{url.scheme}://{url.netloc}{url.path}" == f"{emulator.url}/index.html"
    assert query["iframe"] == ["true"]
    assert query["parent_origin"] == ["http://127.0.0.1:5"]
    assert store.basiq_user("gavin@hooli.com") == query["user_id"][0]
    again = parse_qs(urlsplit(bridge.start_connect(TOKEN)["url"]).query)
    assert again["user_id"] == query["user_id"]  # the same person keeps one Basiq user
    assert again["access_token"] != query["access_token"]  # a fresh token for each connect
    assert emulator.api_key not in started["url"]


def test_a_full_connect_through_the_bridge(bridge: Bridge, emulator: Emulator) -> None:
    query = parse_qs(urlsplit(bridge.start_connect(TOKEN)["url"]).query)
    api = Api(emulator)
    response = api.connect(query["user_id"][0], token=query["access_token"][0])
    job_id = response.json()["id"]
    job = api.wait_job(job_id, "verify-credentials", "success")
    connection_id = job["links"]["source"].rsplit("/", 1)[1]
    assert bridge.receive(TOKEN, message("handshake", {"success": True}))["accepted"] is True
    got = bridge.receive(TOKEN, message("job", {"success": True, "data": {"id": job_id}}))
    assert (got["event"], got["job_id"]) == ("job", job_id)
    connected = bridge.receive(
        TOKEN, message("connection", {"success": True, "data": {"id": connection_id}})
    )
    assert connected["success"] is True
    assert connected["connection"]["id"] == connection_id
    api.wait_job(job_id, "retrieve-transactions", "success")
    progress = bridge.progress(TOKEN, job_id)
    assert progress["done"] is True and progress["failed"] is False
    [listed] = bridge.connections(TOKEN)["connections"]
    assert (listed["id"], listed["status"], listed["institution"]) == (
        connection_id,
        "active",
        "Hooli",
    )
    assert listed["logo"].endswith("/logos/AU00000.svg")


def test_failure_is_recorded_and_reported_without_storing_a_connection(
    bridge: Bridge, store: Store
) -> None:
    failure = {
        "code": "invalid-credentials",
        "title": "Cannot login",
        "detail": "Check credentials.",
    }
    got = bridge.receive(TOKEN, message("connection", {"success": False, "data": failure}))
    assert got["accepted"] is True and got["success"] is False
    assert got["failure"] == failure
    assert store.connections() == []
    assert store.events()[-1]["payload"]["payload"]["data"] == failure


def test_wrong_token_is_refused_by_every_method(bridge: Bridge, store: Store) -> None:
    calls: list[Callable[[Any], dict[str, Any]]] = [
        lambda token: bridge.bootstrap(token),
        lambda token: bridge.set_identifier(token, "x@y.co"),
        lambda token: bridge.start_connect(token),
        lambda token: bridge.receive(token, message("cancellation")),
        lambda token: bridge.progress(token, "job"),
        lambda token: bridge.connections(token),
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
        DirectProvider(client, "secret-key"), client, store,
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


def test_identifier_is_validated_and_remembered_at_once(bridge: Bridge, store: Store) -> None:
    assert bridge.set_identifier(TOKEN, "not an email")["ok"] is False
    assert bridge.set_identifier(TOKEN, 12)["ok"] is False
    assert store.last_identifier() is None
    assert bridge.set_identifier(TOKEN, " new@x.co ")["identifier"] == "new@x.co"
    assert bridge.bootstrap(TOKEN)["identifier"] == "new@x.co"
    assert store.basiq_user("new@x.co") is not None  # remembered before any connect
    assert store.last_identifier() == "new@x.co"


def test_progress_only_for_this_windows_jobs(bridge: Bridge) -> None:
    reply = bridge.progress(TOKEN, "someone-elses-job")
    assert reply["ok"] is False


def test_server_token_is_cached_until_shortly_before_expiry(emulator: Emulator) -> None:
    now = [0.0]
    client = BasiqClient(emulator.url)
    provider = DirectProvider(client, emulator.api_key, clock=lambda: now[0])
    first = provider.server_token()
    assert provider.server_token() == first
    assert provider.server_token_fetches == 1
    now[0] = 3600 - 61  # still outside the 60 s refresh margin
    provider.server_token()
    assert provider.server_token_fetches == 1
    now[0] = 3600 - 59  # inside the margin: renewed
    provider.server_token()
    assert provider.server_token_fetches == 2


hostile = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=15,
)


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    data=hostile
    | st.text(max_size=200)
    | st.builds(
        lambda event, payload: {"event": event, "payload": payload},
        st.sampled_from(["handshake", "job", "connection", "cancellation", "completion", "evil"]),
        hostile,
    )
)
def test_any_message_is_accepted_or_rejected_never_raised(
    bridge: Bridge, store: Store, data: Any
) -> None:
    before = len(store.events())
    reply = bridge.receive(TOKEN, {"origin": ORIGIN, "data": data})
    assert reply["ok"] is True
    assert isinstance(reply["accepted"], bool)
    if not reply["accepted"]:
        assert reply["reason"]
    assert len(store.events()) == before + 1


@pytest.mark.parametrize(
    "data",
    [
        '{"event":"connection","payload":{"success":true,"data":{"id":"../../etc"}}}',
        '{"event":"connection","payload":{"success":true,"data":{"id":""}}}',
        '{"event":"connection","payload":{"success":true}}',
        '{"event":"job","payload":{"success":true,"data":{"id":"x","extra":1}}}',
        '{"event":"handshake"}',
        '{"event":"__proto__","payload":{}}',
        "x" * 70_000,
        "[]",
    ],
)
def test_hostile_messages_are_rejected_with_a_reason(data: str) -> None:
    with pytest.raises(Rejected):
        parse_event(data)


def test_blinks_own_payloads_are_accepted() -> None:
    for data in (
        '{"event":"handshake","payload":{"success":true}}',
        '{"event":"handshake","payload":{"success":false}}',
        '{"event":"job","payload":{"success":true,"data":{"id":"fake-job-id"}}}',
        '{"event":"job","payload":{"success":false,"data":{"detail":"Unknown error"}}}',
        '{"event":"connection","payload":{"success":true,"data":{"id":"fake-connection-id"}}}',
        '{"event":"cancellation"}',
        {"event": "completion"},
        {"event": "completion", "payload": {"success": True, "data": {"institutionName": "Hooli"}}},
    ):
        assert parse_event(data).event in (
            "handshake",
            "job",
            "connection",
            "cancellation",
            "completion",
        )

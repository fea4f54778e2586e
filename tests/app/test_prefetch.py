"""The Basiq user and client token fetched before the click: each serves one connect, only in
the first half of its life, and one that is due is replaced without the person noticing."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from urllib.parse import parse_qs, urlsplit

import pytest

from blink_desktop.app.bridge import Bridge
from blink_desktop.app.connect import ConnectService
from blink_desktop.app.prefetch import MARGIN_S, SYSTEM_CLOCKS
from blink_desktop.app.store import Store
from blink_desktop.basiq.client import BasiqClient
from blink_desktop.basiq.keyholder import KeyHolder
from blink_desktop.basiq.models import Token
from blink_desktop.emulator import Emulator, FakeClock
from tests.app.conftest import TOKEN
from tests.conftest import FAST, Api, wait_for

LIFETIME = 600  # seconds: the emulator's tokens live this long here


class Counting(KeyHolder):
    """The server role, counting the client tokens it asks Basiq for."""

    issued = 0

    def issue_client_token(self, basiq_user_id: str | None) -> Token:
        self.issued += 1
        return super().issue_client_token(basiq_user_id)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def slow_emulator(clock: FakeClock) -> Iterator[Emulator]:
    """Tokens that live LIFETIME seconds of a clock that moves only when told."""
    with Emulator(job_speed=FAST, clock=clock, token_ttl=LIFETIME) as running:
        yield running


def service_on(
    emulator: Emulator, store: Store, clocks: Sequence[Callable[[], float]] = SYSTEM_CLOCKS
) -> tuple[ConnectService, Counting]:
    client = BasiqClient(emulator.url)
    provider = Counting(client, emulator.api_key, known_users=store.basiq_user)
    service = ConnectService(
        provider,
        client,
        store,
        blink_url=f"{emulator.url}/index.html",
        blink_origin=emulator.url,
        identifier="gavin@hooli.com",
        emulated=True,
        clocks=clocks,
    )
    return service, provider


def works(emulator: Emulator, user_id: str, token: str) -> bool:
    """Whether Basiq (the emulator) accepts the token, as Blink's first call checks it."""
    return Api(emulator).call("GET", f"/users/{user_id}", token).status_code == 200


def test_the_token_fetched_at_start_serves_the_first_connect_and_only_it(
    slow_emulator: Emulator, store: Store, clock: FakeClock
) -> None:
    service, provider = service_on(slow_emulator, store, (clock,))
    service.prefetch()
    assert provider.issued == 1
    prepared, fresh_for = service.prepare("http://127.0.0.1:5")
    assert provider.issued == 1  # the one fetched ahead, not another
    assert fresh_for == pytest.approx(LIFETIME / 2 - MARGIN_S)
    started = service.start("http://127.0.0.1:5", prepared.id)
    assert (started.id, started.token, started.url) == (prepared.id, prepared.token, prepared.url)
    assert works(slow_emulator, started.basiq_user_id, started.token)
    again = service.start("http://127.0.0.1:5", prepared.id)  # never a second connect on it
    assert again.token != started.token
    assert provider.issued == 2
    service.close()


def test_tokens_forgotten_after_the_emulator_expired_them_are_never_handed_out(
    slow_emulator: Emulator, store: Store, clock: FakeClock
) -> None:
    service, provider = service_on(slow_emulator, store, (clock,))
    prepared, _ = service.prepare("http://127.0.0.1:5")
    slow_emulator.expire_tokens()  # Simulate's "Expire tokens": their lifetimes cannot tell
    service.forget_tokens()
    started = service.start("http://127.0.0.1:5", prepared.id)
    assert started.token != prepared.token and provider.issued == 2
    assert works(slow_emulator, started.basiq_user_id, started.token)
    service.close()


def test_a_token_past_half_its_life_is_replaced_without_the_person_noticing(
    slow_emulator: Emulator, store: Store, clock: FakeClock
) -> None:
    service, provider = service_on(slow_emulator, store, (clock,))
    bridge = Bridge(service, TOKEN)
    prepared = bridge.prepare_connect(TOKEN, "http://127.0.0.1:5")
    assert prepared["ok"] is True and prepared["fresh_ms"] > 0
    clock.advance(LIFETIME / 2)  # still valid at Basiq, but Blink would get too little of it
    assert bridge.prepare_connect(TOKEN)["session"] != prepared["session"]
    started = bridge.start_connect(TOKEN, "http://127.0.0.1:5", prepared["session"])
    assert started["ok"] is True and started["replaced"] is True
    assert started["access_token"] != prepared["access_token"]
    query = parse_qs(urlsplit(started["url"]).query)
    assert query["access_token"] == [started["access_token"]]
    assert works(slow_emulator, started["user_id"], started["access_token"])
    assert provider.issued == 2
    service.close()


def test_an_expired_token_is_never_handed_out(
    slow_emulator: Emulator, store: Store, clock: FakeClock
) -> None:
    service, _ = service_on(slow_emulator, store, (clock,))
    prepared, _ = service.prepare()
    clock.advance(LIFETIME + 1)
    assert not works(slow_emulator, prepared.basiq_user_id, prepared.token)  # Basiq says 403
    for session in (service.prepare()[0], service.start(None, prepared.id)):
        assert session.token != prepared.token
        assert works(slow_emulator, session.basiq_user_id, session.token)
    service.close()


def test_a_computer_that_slept_cannot_make_a_token_look_young(
    slow_emulator: Emulator, store: Store, clock: FakeClock
) -> None:
    """The monotonic clock stands still while a computer sleeps; the wall clock does not."""
    asleep = FakeClock(start=0)  # the monotonic clock: it never moves here
    service, _ = service_on(slow_emulator, store, (clock, asleep))
    prepared, _ = service.prepare()
    clock.advance(LIFETIME)  # the wall clock (and Basiq) moved on while the other stood still
    assert service.start(None, prepared.id).token != prepared.token
    service.close()


def test_the_token_fetched_ahead_is_renewed_in_the_background_before_it_is_due(
    store: Store,
) -> None:
    lifetime = 2 * (MARGIN_S + 1)  # due one second after it is issued
    with Emulator(job_speed=FAST, token_ttl=round(lifetime)) as emulator:
        service, provider = service_on(emulator, store)
        service.prefetch()
        wait_for(lambda: provider.issued >= 2, timeout=10)  # nobody asked for it
        prepared, fresh_for = service.prepare()
        assert fresh_for > 0
        assert provider.issued in (2, 3)  # the renewed one, unless it fell due meanwhile
        assert works(emulator, prepared.basiq_user_id, prepared.token)
        service.close()


def test_a_server_that_does_not_say_how_long_a_token_lives_gets_none_used_ahead(
    emulator: Emulator, store: Store
) -> None:
    class Unsaid(Counting):
        def issue_client_token(self, basiq_user_id: str | None) -> Token:
            token = super().issue_client_token(basiq_user_id)
            return Token(access_token=token.access_token, expires_in=0)

    client = BasiqClient(emulator.url)
    provider = Unsaid(client, emulator.api_key, known_users=store.basiq_user)
    service = ConnectService(
        provider, client, store, blink_url=f"{emulator.url}/index.html",
        blink_origin=emulator.url, identifier="gavin@hooli.com",
    )  # fmt: skip
    prepared, fresh_for = service.prepare()
    assert fresh_for <= 0
    assert service.start(None, prepared.id).token != prepared.token
    service.close()


def test_switching_person_never_connects_on_the_last_persons_token(
    emulator: Emulator, store: Store
) -> None:
    service, _ = service_on(emulator, store)
    prepared, _ = service.prepare()
    service.set_identifier("richard@piedpiper.com")
    started = service.start(None, prepared.id)
    assert started.basiq_user_id != prepared.basiq_user_id
    assert started.token != prepared.token
    assert store.basiq_user("richard@piedpiper.com") == started.basiq_user_id
    service.close()

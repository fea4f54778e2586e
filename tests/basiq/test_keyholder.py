"""The key holder: the server token cached until shortly before it expires."""

from __future__ import annotations

from blink_desktop.basiq.client import BasiqClient
from blink_desktop.basiq.keyholder import KeyHolder
from blink_desktop.emulator import Emulator
from tests.conftest import Api


def test_server_token_is_cached_until_shortly_before_expiry(emulator: Emulator) -> None:
    now = [0.0]
    client = BasiqClient(emulator.url)
    provider = KeyHolder(client, emulator.api_key, clock=lambda: now[0])
    first = provider.server_token()
    assert provider.server_token() == first
    assert provider.server_token_fetches == 1
    now[0] = 3600 - 61  # still outside the 60 s refresh margin
    provider.server_token()
    assert provider.server_token_fetches == 1
    now[0] = 3600 - 59  # inside the margin: renewed
    provider.server_token()
    assert provider.server_token_fetches == 2


def test_a_users_connections_are_listed_with_the_server_token(emulator: Emulator, api: Api) -> None:
    provider = KeyHolder(BasiqClient(emulator.url), emulator.api_key)
    user_id = provider.basiq_user("gavin@hooli.com")
    assert provider.connections(user_id) == []
    connection_id = api.connected(user_id)
    [listed] = provider.connections(user_id)
    assert (listed.id, listed.institution.id) == (connection_id, "AU00000")
    assert provider.server_token_fetches == 1  # the cached token, not a new one per call

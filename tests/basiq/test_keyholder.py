"""The key holder: the server token cached until shortly before it expires."""

from __future__ import annotations

from blink_desktop.basiq.client import BasiqClient
from blink_desktop.basiq.keyholder import KeyHolder
from blink_desktop.emulator import Emulator


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

"""The server role: who the person is at Basiq, and a fresh client token for each connect.

`DirectProvider` holds the API key itself (the emulator's, or yours). A remote backend that
holds the key instead implements the same two methods.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Protocol

from blink_desktop.api_client import BasiqClient

REFRESH_MARGIN = 60.0  # renew the server token this long before Basiq says it expires


class TokenProvider(Protocol):
    def basiq_user(self, identifier: str) -> str:
        """The Basiq user id for this person, created on first use."""
        ...

    def client_token(self, basiq_user_id: str) -> str:
        """A fresh CLIENT_ACCESS token for Blink."""
        ...


class DirectProvider:
    def __init__(
        self,
        client: BasiqClient,
        api_key: str,
        *,
        known_users: Callable[[str], str | None] = lambda identifier: None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._api_key = api_key
        self._known_users = known_users
        self._clock = clock
        self._server: tuple[str, float] | None = None  # the token, and when to renew it
        self._lock = threading.Lock()
        self.server_token_fetches = 0

    def server_token(self) -> str:
        """The cached SERVER_ACCESS token; one fetch at a time, renewed before it expires."""
        with self._lock:
            if self._server is None or self._clock() >= self._server[1]:
                asked = self._clock()
                token = self._client.token(self._api_key, "SERVER_ACCESS")
                self._server = (token.value, asked + token.expires_in - REFRESH_MARGIN)
                self.server_token_fetches += 1
            return self._server[0]

    def basiq_user(self, identifier: str) -> str:
        return self._known_users(identifier) or self._client.create_user(
            self.server_token(), identifier
        )

    def client_token(self, basiq_user_id: str) -> str:
        bound = basiq_user_id if self._client.version == "3.0" else None
        return self._client.token(self._api_key, "CLIENT_ACCESS", bound).value

"""The server role with the API key in hand: who a person is at Basiq, and their tokens.

The desktop app uses it in emulator and direct modes, the reference server always. The
SERVER_ACCESS token is cached and renewed shortly before it expires, and at once when Basiq
says it has expired (all tokens can expire early: a Basiq-side revocation, the emulator's
expire-tokens or time let pass); each connect gets a fresh CLIENT_ACCESS token, bound to its
user where the API version requires it. The calls that need a server token (a user's
connections, accounts and transactions, refresh, delete) are here, so none of them can fail
on a stale token.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import date
from typing import TypeVar

from blink_desktop.basiq.client import BasiqClient
from blink_desktop.basiq.http import TokenExpired
from blink_desktop.basiq.models import Account, Connection, Job, Token, Transaction

T = TypeVar("T")

REFRESH_MARGIN = 60.0  # renew the server token this long before Basiq says it expires


class KeyHolder:
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

    @property
    def client(self) -> BasiqClient:
        """The Basiq client, for calls to make `with_server_token`."""
        return self._client

    @property
    def binds_tokens(self) -> bool:
        """Under basiq-version 3.0 a CLIENT_ACCESS token must be bound to its user."""
        return self._client.version == "3.0"

    def server_token(self, *, instead_of: str | None = None) -> str:
        """The cached SERVER_ACCESS token; one fetch at a time, renewed before it expires, or
        when it is `instead_of` (a token Basiq said has expired)."""
        with self._lock:
            stale = self._server is not None and self._server[0] == instead_of
            if self._server is None or stale or self._clock() >= self._server[1]:
                asked = self._clock()
                token = self._client.token(self._api_key, "SERVER_ACCESS")
                self._server = (token.access_token, asked + token.expires_in - REFRESH_MARGIN)
                self.server_token_fetches += 1
            return self._server[0]

    def basiq_user(self, identifier: str) -> str:
        """The Basiq user id for this person: a known one, or one created now."""
        known = self._known_users(identifier)
        if known:
            return known
        return self._client.create_user(self.server_token(), identifier).id

    def with_server_token(self, call: Callable[[str], T]) -> T:
        """`call(server token)`; once more with a new token if Basiq says that one expired."""
        token = self.server_token()
        try:
            return call(token)
        except TokenExpired:
            return call(self.server_token(instead_of=token))

    def connections(self, basiq_user_id: str) -> list[Connection]:
        """The user's connections at Basiq, which only a server token may list."""
        return self.with_server_token(lambda token: self._client.connections(token, basiq_user_id))

    def accounts(self, basiq_user_id: str, connection_id: str | None = None) -> list[Account]:
        return self.with_server_token(
            lambda token: self._client.accounts(token, basiq_user_id, connection_id)
        )

    def transactions(
        self,
        basiq_user_id: str,
        *,
        connection_id: str | None = None,
        account_id: str | None = None,
        since: date | None = None,
        until: date | None = None,
        status: str | None = None,
    ) -> list[Transaction]:
        return self.with_server_token(
            lambda token: self._client.transactions(
                token,
                basiq_user_id,
                connection_id=connection_id,
                account_id=account_id,
                since=since,
                until=until,
                status=status,
            )
        )

    def refresh(self, basiq_user_id: str, connection_id: str) -> Job:
        return self.with_server_token(
            lambda token: self._client.refresh(token, basiq_user_id, connection_id)
        )

    def refresh_all(self, basiq_user_id: str) -> list[Job]:
        return self.with_server_token(lambda token: self._client.refresh_all(token, basiq_user_id))

    def delete_connection(self, basiq_user_id: str, connection_id: str) -> None:
        self.with_server_token(
            lambda token: self._client.delete_connection(token, basiq_user_id, connection_id)
        )

    def job(self, basiq_user_id: str, job_id: str) -> Job:
        """A job of the user's (Basiq's own path needs only the job's id)."""
        return self.with_server_token(lambda token: self._client.job(token, job_id))

    def client_token(self, basiq_user_id: str) -> str:
        return self.issue_client_token(basiq_user_id).access_token

    def issue_client_token(self, basiq_user_id: str | None) -> Token:
        bound = basiq_user_id if self.binds_tokens else None
        return self._client.token(self._api_key, "CLIENT_ACCESS", bound)

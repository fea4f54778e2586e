"""The server role: who the person is at Basiq, and a fresh client token for each connect.

`DirectProvider` holds the API key itself (the emulator's, or yours). A remote backend that
holds the key instead implements the same two methods.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

from blink_desktop.api_client import TIMEOUT, BasiqClient, Token, request_json, session_for
from blink_desktop.errors import ApiAuthError, ApiResponseError, ApiUnavailable

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

    @property
    def binds_tokens(self) -> bool:
        """Under basiq-version 3.0 a CLIENT_ACCESS token must be bound to its user."""
        return self._client.version == "3.0"

    def client_token(self, basiq_user_id: str) -> str:
        return self.issue_client_token(basiq_user_id).value

    def issue_client_token(self, basiq_user_id: str | None) -> Token:
        bound = basiq_user_id if self.binds_tokens else None
        return self._client.token(self._api_key, "CLIENT_ACCESS", bound)


class BackendProvider:
    """Your server holds the key; the app asks it, as Basiq's mobile demos do."""

    def __init__(
        self,
        base_url: str,
        client_id: str,
        *,
        timeout: tuple[float, float] = TIMEOUT,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._client_id = client_id
        self._timeout = timeout
        # The server looks users up before creating them, and records reports idempotently,
        # so these POSTs are safe to repeat.
        self._session = session_for(
            self.base_url, idempotent_posts=("/user", "/access_token", "/connections")
        )

    def basiq_user(self, identifier: str) -> str:
        return str(self._post("/user", {"email": identifier}, "your Basiq user")["id"])

    def client_token(self, basiq_user_id: str) -> str:
        body = {"user_id": basiq_user_id}
        return str(self._post("/access_token", body, "an access token")["access_token"])

    def report_connection(self, basiq_user_id: str, connection_id: str) -> None:
        body = {"user_id": basiq_user_id, "connection_id": connection_id}
        self._post("/connections", body, "the connection recorded")

    def _post(self, path: str, body: dict[str, Any], what: str) -> dict[str, Any]:
        status, answer = request_json(
            self._session,
            "POST",
            self.base_url + path,
            service=f"your server at {self.base_url}",
            setting="BLINK_DESKTOP_BACKEND_URL",
            what=what,
            json={**body, "client_id": self._client_id},
            timeout=self._timeout,
        )
        message = str(answer.get("errorMessage") or "")
        if status == 401:
            raise ApiAuthError(
                f"Your server refused this app's client id ({message}). "
                "Check BLINK_DESKTOP_CLIENT_ID with whoever runs the server."
            )
        if status in (502, 503, 504):
            raise ApiUnavailable(f"Your server could not reach Basiq ({message}). Retry later.")
        if status >= 400 or answer.get("success") is not True:
            raise ApiResponseError(f"Your server answered {status}: {message or 'no detail'}.")
        result = answer.get("result")
        if not isinstance(result, dict):
            raise ApiResponseError(f"Your server's answer to {path} has no result.")
        return result

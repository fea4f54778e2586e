"""The lifecycle controls of a running emulator, called over HTTP (controls.py serves them).

What `blink-desktop emulator-control URL …` uses, and what a test or a tool in another process
can use: `Remote(url).break_connection(id)`, `.pass_time(days)`, `.expire_tokens()`, `.time()`.
Errors are `BlinkError`s that say what to do.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlsplit

import requests

from blink_desktop.errors import ApiResponseError, ApiUnavailable, SettingsError

TIMEOUT = (3.05, 30.0)  # letting years pass builds each bank's data for them: give it time


class Remote:
    def __init__(self, url: str) -> None:
        parts = urlsplit(url.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise SettingsError(
                f"{url!r} is not an emulator's address: give the URL `blink-desktop emulator` "
                "prints first, e.g. http://127.0.0.1:43817"
            )
        self.url = url.strip().rstrip("/")
        self.http = requests.Session()
        self.http.trust_env = False  # the emulator is on this machine: never through a proxy

    def time(self) -> dict[str, Any]:
        """`{"now": "…Z", "passedSeconds": …}`: the emulator's time, and how much was let pass."""
        return self._call("GET", "/_emulator/time")

    def pass_time(self, days: float) -> dict[str, Any]:
        """Let `days` pass on the emulator's clock; answer its time afterwards."""
        return self._call("POST", "/_emulator/time", json={"days": days})

    def break_connection(self, connection_id: str) -> dict[str, Any]:
        """`{"id", "userId", "institution", "status", "broken": true}`."""
        return self._call("POST", f"/_emulator/connections/{quote(connection_id, safe='')}/break")

    def connection(self, connection_id: str) -> dict[str, Any]:
        return self._call("GET", f"/_emulator/connections/{quote(connection_id, safe='')}")

    def expire_tokens(self) -> None:
        self._call("POST", "/_emulator/tokens/expire")

    def _call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        try:
            answer = self.http.request(method, self.url + path, timeout=TIMEOUT, **kwargs)
        except requests.RequestException:
            raise ApiUnavailable(
                f"Cannot reach an emulator at {self.url}. Is it running? "
                "(`blink-desktop emulator` prints its URL on its first line.)"
            ) from None
        try:
            body: Any = answer.json() if answer.content else {}
        except ValueError:
            body = None
        if answer.status_code < 400 and isinstance(body, dict):
            return body
        try:
            detail = str(body["data"][0]["detail"])  # Basiq's error envelope
        except (KeyError, IndexError, TypeError):
            raise ApiResponseError(
                f"{self.url} answered {answer.status_code}, and not as an emulator does: is it "
                "the URL `blink-desktop emulator` printed?"
            ) from None
        raise ApiResponseError(
            f"The emulator at {self.url} answered {answer.status_code}: {detail}"
        )

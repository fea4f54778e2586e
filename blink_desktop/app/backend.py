"""Backend mode: your server holds the API key, and the app asks it, as Basiq's mobile demos do.

`BackendClient` speaks to `blink-desktop serve` (or any server with the same two endpoints)
and reports each new connection back to it through the outbox.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from blink_desktop.basiq.http import JsonHttp
from blink_desktop.basiq.models import Token
from blink_desktop.errors import ApiAuthError, ApiResponseError, ApiUnavailable


class BackendClient:
    def __init__(self, base_url: str, client_id: str) -> None:
        # The server looks users up before creating them, so these POSTs are safe to repeat.
        # Reports (/connections) are not retried here: the outbox retries them with its own
        # backoff, and a second layer of retries would only hold the outbox (and quitting) up.
        self.http = JsonHttp(
            base_url,
            service=f"your server at {base_url.rstrip('/')}",
            setting="BLINK_DESKTOP_BACKEND_URL",
            idempotent_posts=("/user", "/access_token"),
            unretried=("/connections",),
            # A server that says when to come back (Basiq's /token limit) is answered at once:
            # the person sees when to retry instead of a window frozen for 30 s.
            wait_out_retry_after=False,
        )
        self.base_url = self.http.base_url
        self._client_id = client_id

    def basiq_user(self, identifier: str) -> str:
        return str(self._post("/user", {"email": identifier}, "your Basiq user")["id"])

    def client_token(self, basiq_user_id: str) -> str:
        return self.issue_client_token(basiq_user_id).access_token

    def issue_client_token(self, basiq_user_id: str) -> Token:
        body = {"user_id": basiq_user_id}
        result = self._post("/access_token", body, "an access token")
        # A server that does not say how long the token lives gets no token used ahead of
        # time (a lifetime of 0): every connect then asks for its own.
        try:
            return Token.model_validate({"expires_in": 0, **result})
        except ValidationError:
            raise ApiResponseError("Your server's answer to /access_token has no token.") from None

    def report_connection(self, basiq_user_id: str, connection_id: str) -> None:
        body = {"user_id": basiq_user_id, "connection_id": connection_id}
        self._post("/connections", body, "the connection recorded")

    def _post(self, path: str, body: dict[str, Any], what: str) -> dict[str, Any]:
        status, answer = self.http.request(
            "POST", path, what=what, json={**body, "client_id": self._client_id}
        )
        message = str(answer.get("errorMessage") or "")
        if status == 401:
            raise ApiAuthError(
                f"Your server refused this app's client id ({message}). "
                "Check BLINK_DESKTOP_CLIENT_ID with whoever runs the server."
            )
        code = (
            answer.get("error", {}).get("code") if isinstance(answer.get("error"), dict) else None
        )
        if code == "upstream-rate-limited":
            raise ApiUnavailable(f"Your server is being limited by Basiq: {message}")
        if status in (502, 503, 504):
            raise ApiUnavailable(f"Your server could not reach Basiq ({message}). Retry later.")
        if status >= 400 or answer.get("success") is not True:
            raise ApiResponseError(f"Your server answered {status}: {message or 'no detail'}.")
        result = answer.get("result")
        if not isinstance(result, dict):
            raise ApiResponseError(f"Your server's answer to {path} has no result.")
        return result

"""Backend mode: your server holds the API key, and the app asks it, as Basiq's mobile demos do.

`BackendClient` speaks to `blink-desktop serve` (or any server with the same endpoints),
reports each new connection back to it through the outbox, and asks it for the connection
manager's accounts, transactions, refreshes and deletions.
"""

from __future__ import annotations

from datetime import date
from typing import Any, TypeVar
from urllib.parse import quote

from pydantic import BaseModel, ValidationError

from blink_desktop.basiq.http import JsonHttp
from blink_desktop.basiq.models import Account, Job, Token, Transaction
from blink_desktop.errors import ApiAuthError, ApiResponseError, ApiUnavailable, UserUnknown

M = TypeVar("M", bound=BaseModel)


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

    # The connection manager's data (app/manager.py's DataSource), which your server fetches
    # with its server token, for this app's own users only.
    def accounts(self, basiq_user_id: str, connection_id: str | None = None) -> list[Account]:
        params = {"connection_id": connection_id} if connection_id else {}
        result = self._get(f"/users/{_segment(basiq_user_id)}/accounts", "your accounts", params)
        return [_model(Account, item, "an account") for item in _list(result)]

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
        """Every page the server gives, following its `next` cursor."""
        asked = {
            "connection_id": connection_id,
            "account_id": account_id,
            "since": since.isoformat() if since else None,
            "until": until.isoformat() if until else None,
            "status": status,
        }
        params = {name: value for name, value in asked.items() if value}
        path = f"/users/{_segment(basiq_user_id)}/transactions"
        found: list[Transaction] = []
        seen: set[str] = set()
        while True:
            result = self._get(path, "your transactions", params)
            found += [_model(Transaction, item, "a transaction") for item in _list(result)]
            cursor = result.get("next")
            if not cursor:
                return found
            if not isinstance(cursor, str) or cursor in seen:
                raise ApiResponseError("Your server's pages of transactions go round in a circle.")
            seen.add(cursor)
            params = {"cursor": cursor}

    def refresh(self, basiq_user_id: str, connection_id: str) -> Job:
        path = f"/users/{_segment(basiq_user_id)}/connections/{_segment(connection_id)}/refresh"
        return _model(Job, self._call("POST", path, "a refresh", json={}), "the refresh's job")

    def job(self, basiq_user_id: str, job_id: str) -> Job:
        path = f"/users/{_segment(basiq_user_id)}/jobs/{_segment(job_id)}"
        return _model(Job, self._get(path, "the refresh's progress"), "the refresh's progress")

    def delete_connection(self, basiq_user_id: str, connection_id: str) -> None:
        path = f"/users/{_segment(basiq_user_id)}/connections/{_segment(connection_id)}"
        self._call("DELETE", path, "the connection deleted")

    def _get(self, path: str, what: str, params: dict[str, str] | None = None) -> dict[str, Any]:
        return self._call("GET", path, what, params=params or None)

    def _post(self, path: str, body: dict[str, Any], what: str) -> dict[str, Any]:
        return self._call("POST", path, what, json={**body, "client_id": self._client_id})

    def _call(self, method: str, path: str, what: str, **kwargs: Any) -> dict[str, Any]:
        status, answer = self.http.request(
            method, path, what=what, headers={"X-Client-Id": self._client_id}, **kwargs
        )
        message = str(answer.get("errorMessage") or "")
        code = (
            answer.get("error", {}).get("code") if isinstance(answer.get("error"), dict) else None
        )
        if status == 404 and code == "user-unknown":
            raise UserUnknown(f"Your server does not know this person for this app: {message}")
        if status == 404 and isinstance(answer.get("error"), dict):
            raise ApiResponseError(f"Your server does not know that: {message or 'no detail'}")
        if status == 401:
            raise ApiAuthError(
                f"Your server refused this app's client id ({message}). "
                "Check BLINK_DESKTOP_CLIENT_ID with whoever runs the server."
            )
        if code == "upstream-rate-limited":
            raise ApiUnavailable(f"Your server is being limited by Basiq: {message}")
        # Basiq reached and answering no (a connection deleted elsewhere, say) is an answer,
        # not an outage: no "retry later", and the window does not call it offline.
        if code == "upstream-error":
            raise ApiResponseError(message or "Basiq refused what your server asked of it.")
        if code == "upstream-refused":
            raise ApiResponseError(
                "Basiq refused your server's API key, so it cannot answer for now: "
                "tell whoever runs your server."
            )
        if status in (502, 503, 504):
            raise ApiUnavailable(f"Your server could not reach Basiq ({message}). Retry later.")
        if status >= 400 or answer.get("success") is not True:
            raise ApiResponseError(f"Your server answered {status}: {message or 'no detail'}.")
        result = answer.get("result")
        if not isinstance(result, dict):
            raise ApiResponseError(f"Your server's answer to {path} has no result.")
        return result


def _segment(value: str) -> str:
    if not value or value in (".", ".."):
        raise ApiResponseError(f"{value!r} is not an id Basiq gives.")
    return quote(value, safe="")


def _list(result: dict[str, Any]) -> list[Any]:
    data = result.get("data")
    if not isinstance(data, list):
        raise ApiResponseError("Your server's answer has no list of data.")
    return data


def _model(model: type[M], body: Any, what: str) -> M:
    try:
        return model.model_validate(body)
    except ValidationError:
        raise ApiResponseError(
            f"Your server's answer for {what} is not what Basiq sends."
        ) from None

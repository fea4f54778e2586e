"""The typed Basiq API client: each call returns a model from basiq/models.py.

Retried through urllib3 as basiq/http.py describes; of the POSTs only /token is retried, since
Basiq may already have applied any other.
"""

from __future__ import annotations

import base64
from typing import Any, TypeVar
from urllib.parse import urlsplit

import requests
from pydantic import BaseModel, ValidationError

from blink_desktop.basiq.http import RETRY_STATUSES, TIMEOUT, JsonHttp, RetryLater
from blink_desktop.basiq.models import (
    Connection,
    ConnectionList,
    Institution,
    Job,
    Token,
    User,
    error_detail,
)
from blink_desktop.errors import ApiAuthError, ApiResponseError, ApiUnavailable

BASIQ_API = "https://au-api.basiq.io"
M = TypeVar("M", bound=BaseModel)
MAX_IMAGE_BYTES = 100 * 1024
IMAGE_TYPES = frozenset({"image/svg+xml", "image/png", "image/jpeg", "image/gif", "image/webp"})


class BasiqClient:
    """`wait_out_retry_after=False` (the reference server): a 429 or 503 with Retry-After is
    raised at once as `RetryLater`, to be passed on, rather than waited out."""

    def __init__(
        self,
        base_url: str,
        *,
        version: str = "2.1",
        timeout: tuple[float, float] = TIMEOUT,
        wait_out_retry_after: bool = True,
    ) -> None:
        self.http = JsonHttp(
            base_url,
            service=f"the Basiq API at {base_url.rstrip('/')}",
            setting="BLINK_DESKTOP_API_URL",
            idempotent_posts=("/token",),
            timeout=timeout,
            wait_out_retry_after=wait_out_retry_after,
        )
        self.base_url = self.http.base_url
        self.version = version

    def token(self, api_key: str, scope: str, user_id: str | None = None) -> Token:
        data = {"scope": scope}
        if user_id:
            data["userId"] = user_id
        headers = {"Authorization": f"Basic {api_key}", "basiq-version": self.version}
        body = self._call("POST", "/token", what="an access token", headers=headers, data=data)
        try:
            return Token.model_validate(body)
        except ValidationError:
            raise ApiResponseError("Basiq's token answer has no access_token; try again.") from None

    def create_user(self, token: str, identifier: str) -> User:
        field = "email" if "@" in identifier else "mobile"
        body = self._call("POST", "/users", token=token, json={field: identifier}, what="a user")
        return _model(User, body, "a user")

    def job(self, token: str, job_id: str) -> Job:
        what = "the connection's progress"
        return _model(Job, self._call("GET", f"/jobs/{job_id}", token=token, what=what), what)

    def connection(self, token: str, user_id: str, connection_id: str) -> Connection:
        path = f"/users/{user_id}/connections/{connection_id}"
        body = self._call("GET", path, token=token, what="the connection")
        return _model(Connection, body, "the connection")

    def connections(self, token: str, user_id: str) -> list[Connection]:
        """A user's connections (a SERVER_ACCESS token); without their accounts, as Basiq lists."""
        what = "your connections"
        body = self._call("GET", f"/users/{user_id}/connections", token=token, what=what)
        return list(_model(ConnectionList, body, what).data)

    def institution(self, token: str, institution_id: str) -> Institution:
        path = f"/institutions/{institution_id}"
        return _model(
            Institution, self._call("GET", path, token=token, what="the bank"), "the bank"
        )

    def image(self, url: str, *, limit: int = MAX_IMAGE_BYTES) -> str:
        """The image at `url` (a bank's logo) as a data: URL, so it outlives the address.

        No token is sent; only an image type of at most `limit` bytes is accepted.
        """
        if urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).hostname:
            raise ApiResponseError("The bank's logo address is not a web address.")
        try:
            with self.http.session.get(
                url, timeout=self.http.timeout, stream=True, headers={"Accept": "image/*"}
            ) as response:
                kind = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
                if response.status_code != 200:
                    raise ApiResponseError(f"The bank's logo answered {response.status_code}.")
                if kind not in IMAGE_TYPES:
                    raise ApiResponseError(f"The bank's logo is {kind or 'untyped'}, not an image.")
                body = _read_at_most(response, limit)
        except requests.RequestException:
            raise ApiUnavailable("Cannot fetch the bank's logo; it is shown as a letter.") from None
        return f"data:{kind};base64,{base64.b64encode(body).decode('ascii')}"

    def _call(
        self, method: str, path: str, *, what: str, token: str | None = None, **kwargs: Any
    ) -> dict[str, Any]:
        headers = {"Accept": "application/json", **kwargs.pop("headers", {})}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        reply = self.http.send(method, path, what=what, headers=headers, **kwargs)
        if reply.status >= 400:
            raise _error(reply.status, reply.body, what, reply.retry_after)
        return reply.body


def _read_at_most(response: requests.Response, limit: int) -> bytes:
    too_large = ApiResponseError(f"The bank's logo is larger than {limit // 1024} KB.")
    declared = response.headers.get("Content-Length", "")
    if declared.isdecimal() and int(declared) > limit:
        raise too_large
    body = bytearray()
    for chunk in response.iter_content(16 * 1024):
        body += chunk
        if len(body) > limit:
            raise too_large
    return bytes(body)


def _model(model: type[M], body: dict[str, Any], what: str) -> M:
    try:
        return model.model_validate(body)
    except ValidationError:
        raise ApiResponseError(
            f"The Basiq API's answer for {what} is not what Basiq sends."
        ) from None


def _error(
    status: int, body: Any, what: str, retry_after: int | None = None
) -> ApiResponseError | ApiAuthError | ApiUnavailable:
    detail = error_detail(body)
    if status in RETRY_STATUSES and retry_after is not None:
        busy = "is limiting requests" if status == 429 else "is not available right now"
        return RetryLater(
            f"The Basiq API {busy} ({status}{detail}) while getting {what}. "
            f"Retry in {retry_after} s.",
            status=status,
            retry_after=retry_after,
        )
    if status in RETRY_STATUSES or status >= 500:
        return ApiUnavailable(
            f"The Basiq API is not available right now ({status}{detail}) while getting {what}. "
            "Retry in a moment."
        )
    if status in (401, 403) or (status == 404 and "API key" in detail):
        return ApiAuthError(
            f"The Basiq API refused our credentials ({status}{detail}) while getting {what}. "
            "Check the API key (BLINK_DESKTOP_API_KEY or `blink-desktop login`)."
        )
    return ApiResponseError(f"The Basiq API answered {status}{detail} while getting {what}.")

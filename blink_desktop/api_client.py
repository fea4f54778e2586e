"""A small Basiq API client: one session, timeouts on every call, retries through urllib3.

GETs and POST /token are retried on connection errors, 429 (honouring Retry-After) and
502/503/504; other POSTs never are, because Basiq may already have applied them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from blink_desktop.errors import ApiAuthError, ApiResponseError, ApiUnavailable

BASIQ_API = "https://au-api.basiq.io"
TIMEOUT = (3.05, 20.0)
RETRY_STATUSES = (429, 502, 503, 504)
MAX_RETRY_AFTER = 10.0


class CappedRetry(Retry):
    """urllib3's Retry, but a server's Retry-After never freezes the app for long."""

    def get_retry_after(self, response: Any) -> float | None:
        wait = super().get_retry_after(response)
        return None if wait is None else min(wait, MAX_RETRY_AFTER)


def retry(methods: frozenset[str]) -> Retry:
    return CappedRetry(
        total=3,
        connect=3,
        read=0,
        status=3,
        backoff_factor=0.3,
        status_forcelist=RETRY_STATUSES,
        allowed_methods=methods,
        respect_retry_after_header=True,
        raise_on_status=False,
    )


def session_for(base_url: str, *, idempotent_posts: tuple[str, ...] = ()) -> requests.Session:
    """A session that retries GET and DELETE, and POST only on the given path prefixes."""
    session = requests.Session()
    session.trust_env = False  # a local emulator must not be routed through a proxy
    session.mount(base_url, HTTPAdapter(max_retries=retry(frozenset({"GET", "DELETE"}))))
    for path in idempotent_posts:
        session.mount(base_url + path, HTTPAdapter(max_retries=retry(frozenset({"POST"}))))
    return session


@dataclass(frozen=True)
class Token:
    value: str
    expires_in: float  # seconds, as Basiq said when it issued the token


class BasiqClient:
    def __init__(
        self,
        base_url: str,
        *,
        version: str = "2.1",
        session: requests.Session | None = None,
        timeout: tuple[float, float] = TIMEOUT,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.version = version
        self.session = session or session_for(self.base_url, idempotent_posts=("/token",))
        self.timeout = timeout

    def token(self, api_key: str, scope: str, user_id: str | None = None) -> Token:
        data = {"scope": scope}
        if user_id:
            data["userId"] = user_id
        body = self._call(
            "POST",
            "/token",
            headers={"Authorization": f"Basic {api_key}", "basiq-version": self.version},
            data=data,
            what="an access token",
        )
        try:
            return Token(str(body["access_token"]), float(body["expires_in"]))
        except (KeyError, TypeError, ValueError):
            raise ApiResponseError("Basiq's token answer has no access_token; try again.") from None

    def create_user(self, token: str, identifier: str) -> str:
        field = "email" if "@" in identifier else "mobile"
        body = self._call("POST", "/users", token=token, json={field: identifier}, what="a user")
        return str(body["id"])

    def job(self, token: str, job_id: str) -> dict[str, Any]:
        return self._call("GET", f"/jobs/{job_id}", token=token, what="the connection's progress")

    def connection(self, token: str, user_id: str, connection_id: str) -> dict[str, Any]:
        path = f"/users/{user_id}/connections/{connection_id}"
        return self._call("GET", path, token=token, what="the connection")

    def institution(self, token: str, institution_id: str) -> dict[str, Any]:
        return self._call("GET", f"/institutions/{institution_id}", token=token, what="the bank")

    def _call(
        self, method: str, path: str, *, what: str, token: str | None = None, **kwargs: Any
    ) -> dict[str, Any]:
        headers = kwargs.pop("headers", {})
        headers.setdefault("Accept", "application/json")
        if token:
            headers["Authorization"] = f"Bearer {token}"
        status, body = request_json(
            self.session,
            method,
            self.base_url + path,
            service=f"the Basiq API at {self.base_url}",
            setting="BLINK_DESKTOP_API_URL",
            what=what,
            headers=headers,
            timeout=self.timeout,
            **kwargs,
        )
        if status >= 400:
            raise _error(status, body, what)
        return body


def request_json(
    session: requests.Session,
    method: str,
    url: str,
    *,
    service: str,
    setting: str,
    what: str,
    **kwargs: Any,
) -> tuple[int, dict[str, Any]]:
    """(status, JSON object) of one call; transport failures and non-objects become errors."""
    try:
        response = session.request(method, url, **kwargs)
    except requests.Timeout:
        raise ApiUnavailable(
            f"{service[:1].upper()}{service[1:]} did not answer in time while getting {what}. "
            "Check your connection, then retry."
        ) from None
    except requests.RequestException:
        raise ApiUnavailable(
            f"Cannot reach {service} to get {what}. Check your network connection "
            f"(or {setting}), then retry."
        ) from None
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        if response.status_code in RETRY_STATUSES or response.status_code >= 500:
            raise ApiUnavailable(
                f"{service[:1].upper()}{service[1:]} is not available right now "
                f"({response.status_code}) while getting {what}. Retry in a moment."
            )
        raise ApiResponseError(
            f"{service[:1].upper()}{service[1:]} answered {response.status_code} with something "
            f"that is not JSON while getting {what}. Check {setting}."
        )
    return response.status_code, body


def _error(status: int, body: Any, what: str) -> ApiResponseError | ApiAuthError | ApiUnavailable:
    detail = ""
    try:
        first = body["data"][0]
        detail = (
            f": {first.get('title') or first.get('code')}. {first.get('detail') or ''}".rstrip()
        )
    except (KeyError, IndexError, TypeError, AttributeError):
        pass
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

"""HTTP plumbing for the upstreams the app and the server call: Basiq, and your own server.

One `requests.Session` per upstream, a timeout on every call, and retries through urllib3's
`Retry`: a failed connection for any method (nothing reached the server); 429 (honouring a
capped Retry-After) and 502/503/504 for GET and DELETE, and for a POST only on the paths its
caller names as safe to repeat; nothing at all on the paths its caller retries itself.
"""

from __future__ import annotations

from typing import Any

import requests
import urllib3
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from blink_desktop.errors import ApiResponseError, ApiUnavailable

TIMEOUT = (3.05, 20.0)
RETRY_STATUSES = (429, 502, 503, 504)
MAX_RETRY_AFTER = 10.0


class CappedRetry(Retry):
    """urllib3's Retry, but a server's Retry-After never freezes the app for long."""

    def get_retry_after(self, response: Any) -> float | None:
        wait = super().get_retry_after(response)
        return None if wait is None else min(wait, MAX_RETRY_AFTER)


def _retry(methods: frozenset[str]) -> Retry:
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


def _timed_out(exc: requests.RequestException) -> bool:
    # With retries configured, a timeout arrives wrapped: ConnectionError(MaxRetryError(reason)).
    if isinstance(exc, requests.Timeout):
        return True
    # urllib3 makes a refused connection (NewConnectionError) a kind of timeout; it is not one.
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    if isinstance(reason, urllib3.exceptions.NewConnectionError):
        return False
    return isinstance(reason, TimeoutError | urllib3.exceptions.TimeoutError)


class JsonHttp:
    """JSON over one session to one upstream, with errors a person can act on.

    `service` names the upstream in messages ("the Basiq API at …"), `setting` the setting
    that points at it.
    """

    def __init__(
        self,
        base_url: str,
        *,
        service: str,
        setting: str,
        idempotent_posts: tuple[str, ...] = (),
        unretried: tuple[str, ...] = (),
        timeout: tuple[float, float] = TIMEOUT,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.service = service
        self.setting = setting
        self.timeout = timeout
        self.session = requests.Session()
        self.session.trust_env = False  # a local emulator must not be routed through a proxy
        retry_reads = HTTPAdapter(max_retries=_retry(frozenset({"GET", "DELETE"})))
        self.session.mount(self.base_url, retry_reads)
        for path in idempotent_posts:
            retry_posts = HTTPAdapter(max_retries=_retry(frozenset({"POST"})))
            self.session.mount(self.base_url + path, retry_posts)
        for path in unretried:  # the caller retries these itself, with its own backoff
            self.session.mount(self.base_url + path, HTTPAdapter(max_retries=Retry(0, read=False)))

    def request(
        self, method: str, path: str, *, what: str, **kwargs: Any
    ) -> tuple[int, dict[str, Any]]:
        """(status, JSON object) of one call; transport failures and non-objects become errors."""
        service = self.service[:1].upper() + self.service[1:]
        try:
            response = self.session.request(
                method, self.base_url + path, timeout=self.timeout, **kwargs
            )
        except requests.RequestException as exc:
            if not _timed_out(exc):
                raise ApiUnavailable(
                    f"Cannot reach {self.service} to get {what}. Check your network connection "
                    f"(or {self.setting}), then retry."
                ) from None
            raise ApiUnavailable(
                f"{service} did not answer in time while getting {what}. "
                "Check your connection, then retry."
            ) from None
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            if 200 <= response.status_code < 300 and not response.content:
                return response.status_code, {}  # 204 No Content, as Basiq's DELETEs answer
            if response.status_code in RETRY_STATUSES or response.status_code >= 500:
                raise ApiUnavailable(
                    f"{service} is not available right now ({response.status_code}) while "
                    f"getting {what}. Retry in a moment."
                )
            raise ApiResponseError(
                f"{service} answered {response.status_code} with something that is not JSON "
                f"while getting {what}. Check {self.setting}."
            )
        return response.status_code, body

"""HTTP plumbing for the upstreams the app and the server call: Basiq, and your own server.

One `requests.Session` per upstream, a timeout on every call, and retries through urllib3's
`Retry`: a failed connection for any method (nothing reached the server); 429 (honouring a
capped Retry-After) and 502/503/504 for GET and DELETE, and for a POST only on the paths its
caller names as safe to repeat; nothing at all on the paths its caller retries itself. A caller
that answers others (the reference server) can have an answer with Retry-After back at once
instead of waited out, to pass it on.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import requests
import urllib3
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from blink_desktop.errors import ApiAuthError, ApiResponseError, ApiUnavailable

TIMEOUT = (3.05, 20.0)
RETRY_STATUSES = (429, 502, 503, 504)
MAX_RETRY_AFTER = 10.0


class CappedRetry(Retry):
    """urllib3's Retry, but a server's Retry-After never freezes the app for long."""

    def get_retry_after(self, response: Any) -> float | None:
        wait = super().get_retry_after(response)
        return None if wait is None else min(wait, MAX_RETRY_AFTER)


class PassOnRetryAfter(Retry):
    """urllib3's Retry, but an answer that says when to come back (Retry-After) is not waited
    out: it goes straight back to the caller, to pass on."""

    def is_retry(self, method: str, status_code: int, has_retry_after: bool = False) -> bool:
        return not has_retry_after and super().is_retry(method, status_code, has_retry_after)


class RetryLater(ApiUnavailable):
    """The upstream is busy or limiting requests (a 429 or 503) and said when to come back."""

    def __init__(self, message: str, *, status: int, retry_after: int) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


class TokenExpired(ApiAuthError):
    """Basiq refused a token it issued because it has expired (403 "Token has expired"): a new
    one will do, unlike a refused API key or a token of the wrong scope."""


class Reply(NamedTuple):
    status: int
    body: dict[str, Any]
    retry_after: int | None  # whole seconds, when the answer had a Retry-After


def _retry_after(response: requests.Response) -> int | None:
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(1, math.ceil(Retry().parse_retry_after(value)))
    except urllib3.exceptions.InvalidHeader:
        return None


def _retry(methods: frozenset[str], wait_out_retry_after: bool = True) -> Retry:
    kind = CappedRetry if wait_out_retry_after else PassOnRetryAfter
    return kind(
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
    that points at it. With `wait_out_retry_after=False`, an answer with Retry-After is
    returned at once rather than retried.
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
        wait_out_retry_after: bool = True,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.service = service
        self.setting = setting
        self.timeout = timeout
        self.session = requests.Session()
        self.session.trust_env = False  # a local emulator must not be routed through a proxy
        reads, posts = frozenset({"GET", "DELETE"}), frozenset({"POST"})
        retry_reads = HTTPAdapter(max_retries=_retry(reads, wait_out_retry_after))
        self.session.mount(self.base_url, retry_reads)
        for path in idempotent_posts:
            retry_posts = HTTPAdapter(max_retries=_retry(posts, wait_out_retry_after))
            self.session.mount(self.base_url + path, retry_posts)
        for path in unretried:  # the caller retries these itself, with its own backoff
            self.session.mount(self.base_url + path, HTTPAdapter(max_retries=Retry(0, read=False)))

    def request(
        self, method: str, path: str, *, what: str, **kwargs: Any
    ) -> tuple[int, dict[str, Any]]:
        """(status, JSON object) of one call; transport failures and non-objects become errors."""
        reply = self.send(method, path, what=what, **kwargs)
        return reply.status, reply.body

    def send(self, method: str, path: str, *, what: str, **kwargs: Any) -> Reply:
        """`request`, and the answer's Retry-After too."""
        service = self.service[:1].upper() + self.service[1:]
        try:
            response = self.session.request(
                method, self.base_url + path, timeout=self.timeout, **kwargs
            )
        except requests.RequestException as exc:
            if not _timed_out(exc):
                raise ApiUnavailable(
                    f"Cannot reach {self.service} for {what}. Check your network connection "
                    f"(or {self.setting}), then retry."
                ) from None
            raise ApiUnavailable(
                f"{service} did not answer in time for {what}. Check your connection, then retry."
            ) from None
        try:
            body = response.json()
        except ValueError:
            body = None
        retry_after = _retry_after(response)
        if not isinstance(body, dict):
            if 200 <= response.status_code < 300 and not response.content:
                return Reply(response.status_code, {}, None)  # 204, as Basiq's DELETEs answer
            if response.status_code in RETRY_STATUSES or response.status_code >= 500:
                unavailable = (
                    f"{service} is not available right now ({response.status_code}) for {what}."
                )
                if response.status_code in RETRY_STATUSES and retry_after is not None:
                    raise RetryLater(
                        f"{unavailable} Retry in {retry_after} s.",
                        status=response.status_code,
                        retry_after=retry_after,
                    )
                raise ApiUnavailable(f"{unavailable} Retry in a moment.")
            raise ApiResponseError(
                f"{service} answered {response.status_code} with something that is not JSON "
                f"for {what}. Check {self.setting}."
            )
        return Reply(response.status_code, body, retry_after)

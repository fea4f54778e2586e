"""The typed Basiq API client: each call returns a model from basiq/models.py.

Retried through urllib3 as basiq/http.py describes; of the POSTs only /token is retried, since
Basiq may already have applied any other. Lists that page (transactions) are followed through
`links.next`, on the same host only: the token goes nowhere else.
"""

from __future__ import annotations

import base64
import logging
import re
from collections.abc import Iterator
from datetime import date
from typing import Any, TypeVar
from urllib.parse import quote, urlencode, urlsplit

import requests
from pydantic import BaseModel, ValidationError

from blink_desktop.basiq.http import RETRY_STATUSES, TIMEOUT, JsonHttp, RetryLater, TokenExpired
from blink_desktop.basiq.models import (
    Account,
    AccountPage,
    Connection,
    ConnectionList,
    Institution,
    Job,
    JobList,
    Token,
    Transaction,
    TransactionPage,
    User,
    error_detail,
)
from blink_desktop.errors import ApiAuthError, ApiResponseError, ApiUnavailable, NotFound

log = logging.getLogger(__name__)

BASIQ_API = "https://au-api.basiq.io"
M = TypeVar("M", bound=BaseModel)
P = TypeVar("P", AccountPage, TransactionPage)
MAX_IMAGE_BYTES = 100 * 1024
IMAGE_TYPES = frozenset({"image/svg+xml", "image/png", "image/jpeg", "image/gif", "image/webp"})
MAX_PAGE = 500  # Basiq's largest `limit`
MAX_PAGES = 10_000  # a `links.next` that never ends is Basiq's bug, not a reason to hang
FILTER_SAFE = "'(),"  # as Basiq's own links write a filter
_FILTER_VALUE = re.compile(r"[A-Za-z0-9_.:-]+")  # ids and dates; nothing that ends a filter


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
        return _model(
            Job, self._call("GET", f"/jobs/{_segment(job_id)}", token=token, what=what), what
        )

    def connection(self, token: str, user_id: str, connection_id: str) -> Connection:
        path = f"/users/{_segment(user_id)}/connections/{_segment(connection_id)}"
        body = self._call("GET", path, token=token, what="the connection")
        return _model(Connection, body, "the connection")

    def connections(self, token: str, user_id: str) -> list[Connection]:
        """A user's connections (a SERVER_ACCESS token); without their accounts, as Basiq lists."""
        what = "your connections"
        body = self._call("GET", f"/users/{_segment(user_id)}/connections", token=token, what=what)
        return list(_model(ConnectionList, body, what).data)

    def accounts(self, token: str, user_id: str, connection_id: str | None = None) -> list[Account]:
        """A user's accounts (a SERVER_ACCESS token), or one connection's."""
        conditions = [_condition("connection.id", "eq", connection_id)] if connection_id else []
        path = _with_query(f"/users/{_segment(user_id)}/accounts", conditions)
        accounts: list[Account] = []
        for page in self._pages(AccountPage, path, token, "your accounts"):
            accounts += page.data
        return accounts

    def account(self, token: str, user_id: str, account_id: str) -> Account:
        path = f"/users/{_segment(user_id)}/accounts/{_segment(account_id)}"
        return _model(
            Account, self._call("GET", path, token=token, what="the account"), "the account"
        )

    def transactions(
        self,
        token: str,
        user_id: str,
        *,
        connection_id: str | None = None,
        account_id: str | None = None,
        since: date | None = None,
        until: date | None = None,
        status: str | None = None,
        page_size: int = MAX_PAGE,
    ) -> list[Transaction]:
        """A user's transactions (a SERVER_ACCESS token), every page; see `transaction_pages`."""
        pages = self.transaction_pages(
            token,
            user_id,
            connection_id=connection_id,
            account_id=account_id,
            since=since,
            until=until,
            status=status,
            page_size=page_size,
        )
        return [transaction for page in pages for transaction in page.data]

    def transaction_pages(
        self,
        token: str,
        user_id: str,
        *,
        connection_id: str | None = None,
        account_id: str | None = None,
        since: date | None = None,
        until: date | None = None,
        status: str | None = None,
        page_size: int = MAX_PAGE,
    ) -> Iterator[TransactionPage]:
        """Each page of a user's transactions, as Basiq sends them (by account, pending first,
        then newest first), following `links.next`.

        Narrowed with Basiq's filters: `connection.id`, `account.id`, and `since`/`until` (both
        days included) on `transaction.postDate`, which a pending transaction does not have yet:
        a date filter leaves pending ones out (`status="pending"` lists them alone).
        """
        if not 1 <= page_size <= MAX_PAGE:
            raise ValueError(f"page_size is 1 to {MAX_PAGE}, not {page_size}")
        conditions = []
        if connection_id:
            conditions.append(_condition("connection.id", "eq", connection_id))
        if account_id:
            conditions.append(_condition("account.id", "eq", account_id))
        if status:
            conditions.append(_condition("transaction.status", "eq", status))
        if since and until:
            conditions.append(_condition("transaction.postDate", "bt", _day(since), _day(until)))
        elif since:
            conditions.append(_condition("transaction.postDate", "gteq", _day(since)))
        elif until:
            conditions.append(_condition("transaction.postDate", "lteq", _day(until)))
        path = _with_query(f"/users/{_segment(user_id)}/transactions", conditions, page_size)
        return self._pages(TransactionPage, path, token, "your transactions")

    def transaction_page(self, token: str, link: str) -> TransactionPage:
        """The page of transactions at `link`, a `links.next` this API gave (its host only)."""
        what = "your transactions"
        path = self._same_host(link, what)
        return _model(TransactionPage, self._call("GET", path, token=token, what=what), what)

    def refresh(self, token: str, user_id: str, connection_id: str) -> Job:
        """Ask the bank again (a SERVER_ACCESS token); answer the job, to follow with `job`."""
        path = f"/users/{_segment(user_id)}/connections/{_segment(connection_id)}/refresh"
        what = "a refresh of the connection"
        return _model(Job, self._call("POST", path, token=token, what=what), what)

    def refresh_all(self, token: str, user_id: str) -> list[Job]:
        """Refresh every connection of the user; answer one job each."""
        path = f"/users/{_segment(user_id)}/connections/refresh"
        what = "a refresh of your connections"
        return list(_model(JobList, self._call("POST", path, token=token, what=what), what).data)

    def delete_connection(self, token: str, user_id: str, connection_id: str) -> None:
        """Delete a connection at Basiq (204); one Basiq no longer has counts as deleted."""
        path = f"/users/{_segment(user_id)}/connections/{_segment(connection_id)}"
        try:
            self._call("DELETE", path, token=token, what="the deletion of the connection")
        except NotFound:
            log.info("connection %s was already gone at Basiq", connection_id)

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

    def _pages(self, model: type[P], path: str, token: str, what: str) -> Iterator[P]:
        seen = {path}
        for _ in range(MAX_PAGES):
            page = _model(model, self._call("GET", path, token=token, what=what), what)
            yield page
            following = page.links.next
            if not following:
                return
            path = self._same_host(following, what)
            if path in seen:
                raise ApiResponseError(f"The Basiq API's pages of {what} go round in a circle.")
            seen.add(path)
        raise ApiResponseError(f"The Basiq API's pages of {what} never end.")

    def _same_host(self, link: str, what: str) -> str:
        """The path and query of a link to follow with the token: on this API's host only."""
        if link.startswith("/") and not link.startswith("//"):
            return link
        base = urlsplit(self.base_url)
        parts = urlsplit(link)
        prefix = base.path.rstrip("/")
        if (parts.scheme, parts.netloc) != (base.scheme, base.netloc) or not (
            parts.path.startswith(prefix + "/")
        ):
            raise ApiResponseError(
                f"The Basiq API's next page of {what} is elsewhere ({parts.netloc or link!r}); "
                "it was not followed."
            )
        return parts.path[len(prefix) :] + (f"?{parts.query}" if parts.query else "")

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


def _segment(value: str) -> str:
    """An id as one path segment: nothing in it can reach another path."""
    if not value or value in (".", ".."):
        raise ValueError(f"{value!r} is not an id Basiq gives")
    return quote(value, safe="")


def _day(value: date) -> str:
    return value.strftime("%Y-%m-%d")


def _condition(field: str, op: str, *values: str) -> str:
    """One statement of Basiq's filter grammar, e.g. `connection.id.eq('…')`."""
    for value in values:
        if not _FILTER_VALUE.fullmatch(value):
            raise ValueError(f"{value!r} cannot be a {field} in a Basiq filter")
    return f"{field}.{op}({','.join(repr(value) for value in values)})"


def _with_query(path: str, conditions: list[str], limit: int | None = None) -> str:
    query: dict[str, str] = {}
    if limit is not None:
        query["limit"] = str(limit)
    if conditions:
        query["filter"] = ",".join(conditions)
    return f"{path}?{urlencode(query, safe=FILTER_SAFE)}" if query else path


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


def _expired(body: Any) -> bool:
    try:
        return "expired" in str(body["data"][0].get("detail", "")).lower()
    except (KeyError, IndexError, TypeError, AttributeError):
        return False


def _error(
    status: int, body: Any, what: str, retry_after: int | None = None
) -> ApiResponseError | ApiAuthError | ApiUnavailable:
    detail = error_detail(body)
    said = f"{status}{detail}".rstrip(".")  # "404: Title. Detail", closed by our own words
    if status in RETRY_STATUSES and retry_after is not None:
        busy = "is limiting requests" if status == 429 else "is not available right now"
        return RetryLater(
            f"The Basiq API {busy} ({said}) for {what}. Retry in {retry_after} s.",
            status=status,
            retry_after=retry_after,
        )
    if status in RETRY_STATUSES or status >= 500:
        return ApiUnavailable(
            f"The Basiq API is not available right now ({said}) for {what}. Retry in a moment."
        )
    if status == 403 and _expired(body):
        return TokenExpired(
            f"The Basiq API says our token has expired ({said}) for {what}. Retry with a new one."
        )
    if status in (401, 403) or (status == 404 and "API key" in detail):
        return ApiAuthError(
            f"The Basiq API refused our credentials ({said}) for {what}. "
            "Check the API key (BLINK_DESKTOP_API_KEY or `blink-desktop login`)."
        )
    if status == 404:
        return NotFound(f"The Basiq API has no such thing ({said}) for {what}.")
    return ApiResponseError(f"The Basiq API refused {what} ({said}).")

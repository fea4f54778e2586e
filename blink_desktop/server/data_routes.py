"""serve's endpoints for the app's connection manager in backend mode (app/backend.py).

- `GET /users/{id}/accounts[?connection_id=]`: the user's accounts, as Basiq gives them.
- `GET /users/{id}/transactions[?connection_id=&account_id=&since=&until=&status=&limit=]`:
  one page of the user's transactions (`limit` up to 500), and `next`, the cursor of the
  next page (`?cursor=`), or null.
- `POST /users/{id}/connections/{cid}/refresh`: Basiq's refresh job (202);
  `GET /users/{id}/jobs/{job}`: its progress.
- `DELETE /users/{id}/connections/{cid}`: the connection deleted at Basiq (one the user no
  longer has there is deleted already: 200 too).

Each asks for a known client id (`X-Client-Id`) and serves only the users that client asked
for (`POST /user`; the store keeps a hash of the client id, not the id): another client's user
gets 404 `user-unknown`. The server calls Basiq with its server token, which never leaves it.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from datetime import date
from typing import Any
from urllib.parse import quote, urlsplit

import bottle

from blink_desktop.basiq.client import MAX_PAGE
from blink_desktop.basiq.keyholder import KeyHolder
from blink_desktop.basiq.models import TransactionPage
from blink_desktop.errors import ApiResponseError
from blink_desktop.server.bodies import Refused, answered, path_id
from blink_desktop.server.store import Store

log = logging.getLogger(__name__)

STATUSES = ("pending", "posted")


def client_key(client_id: str) -> str:
    """What the store keeps of a client id: enough to tell clients apart, not the id."""
    return hashlib.sha256(client_id.encode()).hexdigest()


def admitted_user(store: Store, user_id: str, client_id: str) -> str:
    """`user_id`, if this (known) client asked for that user with POST /user; else a 404, the
    same whether the user is another client's or no one's, so ids cannot be probed."""
    user = path_id("user_id", user_id)
    if not store.admits(user, client_key(client_id)):
        raise Refused(
            404,
            "This app has no user with that id here: ask POST /user for it first.",
            "user-unknown",
        )
    return user


def _dumped(item: Any) -> dict[str, Any]:
    return dict(item.model_dump(mode="json", by_alias=True, exclude_none=True))


def _query_id(name: str) -> str | None:
    value = bottle.request.query.getunicode(name)
    return path_id(name, value) if value else None


def _query_day(name: str) -> date | None:
    value = bottle.request.query.getunicode(name)
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise Refused(400, f"{name} is not a date (YYYY-MM-DD).", f"{name}-invalid") from None


def _limit() -> int:
    value = bottle.request.query.getunicode("limit") or str(MAX_PAGE)
    if not value.isdecimal() or not 1 <= int(value) <= MAX_PAGE:
        raise Refused(400, f"limit is a number from 1 to {MAX_PAGE}.", "limit-invalid")
    return int(value)


def add_data_routes(
    app: bottle.Bottle, keyholder: KeyHolder, store: Store, check: Callable[[object], str]
) -> None:
    """Add the endpoints; `check` answers a known client's id, else raises Refused."""
    client = keyholder.client

    def owned(user_id: str) -> str:
        """The user in the path, if the calling client asked for it."""
        return admitted_user(store, user_id, check(bottle.request.get_header("X-Client-Id")))

    def accounts(user_id: str) -> bottle.HTTPResponse:
        user = owned(user_id)
        found = keyholder.accounts(user, _query_id("connection_id"))
        return answered({"data": [_dumped(item) for item in found]})

    def transactions(user_id: str) -> bottle.HTTPResponse:
        user = owned(user_id)
        cursor = bottle.request.query.getunicode("cursor")
        if cursor:
            # A `links.next` Basiq gave this user: no other user's, on Basiq's host only.
            tail = f"/users/{quote(user, safe='')}/transactions"
            if not urlsplit(cursor).path.endswith(tail):
                raise Refused(400, "cursor is not one this server gave.", "cursor-invalid")
            page = keyholder.with_server_token(lambda token: client.transaction_page(token, cursor))
        else:
            status = bottle.request.query.getunicode("status")
            if status and status not in STATUSES:
                raise Refused(400, "status is pending or posted.", "status-invalid")
            connection_id, account_id = _query_id("connection_id"), _query_id("account_id")
            since, until = _query_day("since"), _query_day("until")
            limit = _limit()

            def first(token: str) -> TransactionPage:
                pages = client.transaction_pages(
                    token,
                    user,
                    connection_id=connection_id,
                    account_id=account_id,
                    since=since,
                    until=until,
                    status=status,
                    page_size=limit,
                )
                return next(iter(pages))

            page = keyholder.with_server_token(first)
        return answered(
            {
                "data": [_dumped(item) for item in page.data],
                "count": page.count,
                "next": page.links.next or None,
            }
        )

    def refresh(user_id: str, connection_id: str) -> bottle.HTTPResponse:
        user = owned(user_id)
        job = keyholder.refresh(user, path_id("connection_id", connection_id))
        return answered(_dumped(job), 202)

    def job(user_id: str, job_id: str) -> bottle.HTTPResponse:
        user = owned(user_id)
        found = keyholder.job(user, path_id("job_id", job_id))
        # A job says whose connection it works on; another user's is not this one's to see.
        source = urlsplit(found.links.source or "").path
        if f"/users/{quote(user, safe='')}/connections/" not in source:
            raise Refused(404, "This user has no job with that id.", "job-unknown")
        return answered(_dumped(found))

    def delete(user_id: str, connection_id: str) -> bottle.HTTPResponse:
        user = owned(user_id)
        connection = path_id("connection_id", connection_id)
        try:
            keyholder.delete_connection(user, connection)
        except ApiResponseError:
            # Deleting is idempotent: one this user no longer has (deleted elsewhere) is done,
            # else the app could never let go of it (it cannot list the user's connections).
            if any(item.id == connection for item in keyholder.connections(user)):
                raise
            log.info("connection %s was already gone at Basiq", connection)
        return answered({"id": connection, "deleted": True})

    app.route("/users/<user_id>/accounts", "GET", accounts)
    app.route("/users/<user_id>/transactions", "GET", transactions)
    app.route("/users/<user_id>/connections/<connection_id>/refresh", "POST", refresh)
    app.route("/users/<user_id>/jobs/<job_id>", "GET", job)
    app.route("/users/<user_id>/connections/<connection_id>", "DELETE", delete)

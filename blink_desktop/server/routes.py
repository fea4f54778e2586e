"""The reference server's routes: a bottle app, compatible with Basiq's example server and its
mobile demos.

`POST /user {email}` and `POST /access_token {client_id}` answer `{"success": true, "result":
…}`. Unlike the example, the server looks users up in its own store before creating one (one
request creates it, however many ask at once), requires a known client id (an `X-Client-Id`
header, or `client_id` in the body), binds client tokens to the user where the API version
needs it, answers a client only about users it asked for (a token for a user, a report, a
user's connections: 404 `user-unknown` for another client's user or no one's), and turns Basiq's
errors into errors (one that says when to come back, such as its /token rate limit, at once:
503 with its Retry-After). It records the connections apps report
(`POST /connections`), lists them per user with the status Basiq's webhooks gave them
(`GET /users/{id}/connections`), receives those webhooks (`POST /webhooks/basiq`, webhooks.py:
signed by Basiq, not sent by apps, so no client id), and answers `GET /health`. While its
database does not answer, each request that needs it gets 503 `database-unavailable` with a
Retry-After. Each request is logged once, on the
`blink_desktop.server` logger. The connection manager's endpoints (a user's accounts,
transactions, refreshes and deletions, for the client that asked for that user) are in
data_routes.py.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Sequence

import bottle

from blink_desktop.basiq.http import RetryLater
from blink_desktop.basiq.keyholder import KeyHolder
from blink_desktop.errors import ApiAuthError, ApiUnavailable, BlinkError
from blink_desktop.httpd import JsonErrors, WsgiApp, access_log
from blink_desktop.server import webhooks
from blink_desktop.server.bodies import (
    MAX_BODY,
    Body,
    ConnectionBody,
    Refused,
    TokenBody,
    UserBody,
    answered,
    json_object,
    parse,
)
from blink_desktop.server.data_routes import add_data_routes, admitted_user, client_key
from blink_desktop.server.store import Store, StoreUnavailable

log = logging.getLogger("blink_desktop.server")

NO_CLIENT_IDS = (
    "The server needs at least one client id: set BLINK_DESKTOP_CLIENT_IDS "
    "(comma-separated) or pass --client-id."
)


class ClientIds:
    """The client ids the server accepts."""

    def __init__(self, client_ids: Sequence[str]) -> None:
        if not client_ids:
            raise BlinkError(NO_CLIENT_IDS)
        self._known = [client_id.encode() for client_id in client_ids]

    def check(self, offered: object) -> str:
        """The client id offered, if the server knows it; else Refused."""
        if not offered:
            raise Refused(400, "Client ID not received", "client-id-missing")
        if not isinstance(offered, str):
            raise Refused(401, "Client ID is not valid.", "client-id-invalid")
        candidate = offered.encode()
        # Compare against every id, always, so the time taken says nothing about which matched.
        matched = False
        for known in self._known:
            matched |= hmac.compare_digest(candidate, known)
        if not matched:
            raise Refused(401, "Client ID is not valid.", "client-id-invalid")
        return offered


def _fallback(status: int) -> Refused:
    if status in (404, 405):
        message = f"No {bottle.request.method} {bottle.request.path} here."
        return Refused(status, message, "not-found")
    return Refused(500, "The server failed; its log has the details.", "internal-error")


def _convert(exc: Exception) -> Refused | None:
    if isinstance(exc, StoreUnavailable):  # logged by the store, once per outage
        refused = Refused(503, str(exc), exc.code)
        refused.headers["Retry-After"] = str(exc.retry_after)
        return refused
    if isinstance(exc, RetryLater):
        # 503 rather than 429: this app sent nothing too many; Basiq limits the server as a
        # whole (its /token budget is per address), or is busy. Either way it said when.
        code = "upstream-rate-limited" if exc.status == 429 else "upstream-unavailable"
        refused = Refused(503, str(exc), code)
        refused.headers["Retry-After"] = str(exc.retry_after)
        return refused
    if isinstance(exc, ApiUnavailable):
        return Refused(503, str(exc), "upstream-unavailable")
    if isinstance(exc, ApiAuthError):
        log.error("Basiq refused the server's credentials: %s", exc)
        return Refused(502, str(exc), "upstream-refused")
    if isinstance(exc, BlinkError):
        return Refused(502, str(exc), "upstream-error")
    return None


def _raw_body() -> bytes:
    """The request's body, at most MAX_BODY bytes, else 413."""
    # Bottle reads a whole body before handing out any of it, spooling a large one to disk;
    # waitress caps what it lets through, gunicorn does not: refuse one declared too large
    # unread.
    if bottle.request.content_length > MAX_BODY:
        raise Refused(413, "The request body is too large.", "body-too-large")
    raw = bottle.request.body.read(MAX_BODY + 1)
    if len(raw) > MAX_BODY:
        raise Refused(413, "The request body is too large.", "body-too-large")
    return bytes(raw)


def create_app(
    keyholder: KeyHolder,
    store: Store,
    client_ids: Sequence[str],
    receiver: webhooks.Receiver | None = None,
) -> WsgiApp:
    """The WSGI application, logging each request; without a receiver, webhooks get 503."""
    clients = ClientIds(client_ids)
    receiver = receiver or webhooks.Receiver(store)
    app = bottle.Bottle(catchall=True)
    app.install(JsonErrors(_fallback, convert=_convert, logger=log))

    def posted_by(model: type[Body]) -> tuple[Body, str]:
        """The posted body, from a known client, as `model`; and the client's id."""
        body = json_object(_raw_body())
        client = clients.check(bottle.request.get_header("X-Client-Id") or body.get("client_id"))
        return parse(model, body), client

    def health() -> bottle.HTTPResponse:
        store.check()  # ok only while the database answers; else 503 database-unavailable
        return answered({"status": "ok"})

    def user() -> bottle.HTTPResponse:
        body, client = posted_by(UserBody)
        identifier = body.email
        # Created at Basiq (not idempotent) by one request, however many ask at once.
        basiq_user = store.user_for(
            identifier.value, lambda: keyholder.basiq_user(identifier.value)
        )
        store.admit(basiq_user, client_key(client))  # its data is this client's to see
        return answered({"type": "user", "id": basiq_user, identifier.kind: identifier.value})

    def access_token() -> bottle.HTTPResponse:
        body, client = posted_by(TokenBody)
        user_id = body.user_id
        if user_id is None and keyholder.binds_tokens:
            raise Refused(
                400, "user_id is required: client tokens are bound to a user.", "user_id-missing"
            )
        if user_id is not None:  # a user named (bound, or for Blink's URL): this client's own
            admitted_user(store, user_id, client)
        token = keyholder.issue_client_token(user_id)
        expires_in = token.expires_in
        return answered(
            {
                "access_token": token.access_token,
                "token_type": "Bearer",
                # As Basiq and its example server write it: 3600, not 3600.0.
                "expires_in": int(expires_in) if expires_in.is_integer() else expires_in,
            }
        )

    def report() -> bottle.HTTPResponse:
        body, client = posted_by(ConnectionBody)
        user = admitted_user(store, body.user_id, client)
        if store.report(body.connection_id, user) != user:
            raise Refused(
                409,
                "That connection was reported for another user; a connection has one user.",
                "connection-elsewhere",
            )
        return answered({"user_id": body.user_id, "connection_id": body.connection_id}, 201)

    def user_connections(user_id: str) -> bottle.HTTPResponse:
        client = clients.check(bottle.request.get_header("X-Client-Id"))
        user_id = admitted_user(store, user_id, client)
        listed = store.connections_of(user_id)
        told = webhooks.statuses(store.connection_events(user_id)) if listed else {}
        return answered(
            [
                {
                    "id": item.connection_id,
                    "created": item.reported,
                    "status": told.get(item.connection_id, "reported"),
                }
                for item in listed
            ]
        )

    def webhook() -> bottle.HTTPResponse:
        headers = {name: str(value) for name, value in bottle.request.headers.items()}
        return answered(receiver.receive(_raw_body(), headers))

    app.route("/health", "GET", health)
    app.route("/user", "POST", user)
    app.route("/access_token", "POST", access_token)
    app.route("/connections", "POST", report)
    app.route("/users/<user_id>/connections", "GET", user_connections)
    app.route(webhooks.PATH, "POST", webhook)
    add_data_routes(app, keyholder, store, clients.check)
    return access_log(app, log)

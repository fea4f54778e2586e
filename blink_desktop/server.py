"""The reference server: the half of Blink's architecture that holds the API key.

A WSGI application (bottle), compatible with Basiq's example server and its mobile demos:
`POST /user {email}` and `POST /access_token {client_id}`, answering
`{"success": true, "result": …}`. Unlike the example, it looks users up in its own database
before creating one, requires a known client id, binds client tokens to the user where the API
version needs it, and turns Basiq's errors into errors. It also records connections that the
desktop app reports, and answers `GET /health`.
"""

from __future__ import annotations

import hmac
import json
import logging
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import bottle

from blink_desktop import keychain, logs
from blink_desktop.api_client import BASIQ_API, BasiqClient
from blink_desktop.emulator import Emulator
from blink_desktop.errors import ApiAuthError, ApiUnavailable, BlinkError, SettingsError
from blink_desktop.providers import DirectProvider
from blink_desktop.settings import Settings, load_settings
from blink_desktop.store import Store

log = logging.getLogger("blink_desktop.server")

MAX_BODY = 64 * 1024
JSON = "application/json"
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_ID = re.compile(r"^[A-Za-z0-9_-]{1,128}$")


class Refused(Exception):
    def __init__(self, status: int, message: str, code: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


def _reply(status: int, body: dict[str, Any]) -> bottle.HTTPResponse:
    return bottle.HTTPResponse(json.dumps(body), status=status, headers={"Content-Type": JSON})


def _ok(result: Any, status: int = 200) -> bottle.HTTPResponse:
    return _reply(status, {"success": True, "result": result})


def _error(status: int, message: str, code: str) -> bottle.HTTPResponse:
    return _reply(status, {"success": False, "errorMessage": message, "error": {"code": code}})


def _body() -> dict[str, Any]:
    raw = bottle.request.body.read(MAX_BODY + 1)
    if len(raw) > MAX_BODY:
        raise Refused(413, "The request body is too large.", "body-too-large")
    try:
        body = json.loads(raw.decode("utf-8") or "{}")
    except (UnicodeDecodeError, ValueError):
        raise Refused(400, "The request body must be JSON.", "invalid-json") from None
    if not isinstance(body, dict):
        raise Refused(400, "The request body must be a JSON object.", "invalid-json")
    return body


def _text(body: dict[str, Any], name: str, pattern: re.Pattern[str], missing: str) -> str:
    value = body.get(name)
    if value is None or value == "":
        raise Refused(400, missing, f"{name}-missing")
    if not isinstance(value, str) or not pattern.match(value.strip()):
        raise Refused(400, f"{name} is not valid.", f"{name}-invalid")
    return value.strip()


def create_app(provider: DirectProvider, store: Store, client_ids: Sequence[str]) -> bottle.Bottle:
    """The WSGI application."""
    if not client_ids:
        raise BlinkError(
            "The server needs at least one client id: set BLINK_DESKTOP_CLIENT_IDS "
            "(comma-separated) or pass --client-id."
        )
    allowed = [client_id.encode() for client_id in client_ids]
    app = bottle.Bottle(catchall=True)

    def authenticate(body: dict[str, Any]) -> None:
        offered = bottle.request.get_header("X-Client-Id") or body.get("client_id")
        if not offered:
            raise Refused(400, "Client ID not received", "client-id-missing")
        if not isinstance(offered, str):
            raise Refused(401, "Client ID is not valid.", "client-id-invalid")
        candidate = offered.encode()
        # Compare against every id, always, so the time taken says nothing about which matched.
        matched = False
        for known in allowed:
            matched |= hmac.compare_digest(candidate, known)
        if not matched:
            raise Refused(401, "Client ID is not valid.", "client-id-invalid")

    def handled(callback: Callable[..., bottle.HTTPResponse]) -> Callable[..., bottle.HTTPResponse]:
        def wrapper(*args: Any, **kwargs: Any) -> bottle.HTTPResponse:
            started = time.perf_counter()
            try:
                response = callback(*args, **kwargs)
            except Refused as exc:
                response = _error(exc.status, str(exc), exc.code)
            except ApiUnavailable as exc:
                response = _error(503, str(exc), "upstream-unavailable")
            except ApiAuthError as exc:
                log.error("Basiq refused the server's credentials: %s", exc)
                response = _error(502, str(exc), "upstream-refused")
            except BlinkError as exc:
                response = _error(502, str(exc), "upstream-error")
            log.info(
                "%s %s %s %.1f ms",
                bottle.request.method,
                bottle.request.path,
                response.status_code,
                (time.perf_counter() - started) * 1000,
            )
            return response

        return wrapper

    def route(method: str, path: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        def register(callback: Callable[..., Any]) -> Callable[..., Any]:
            app.route(path, method, handled(callback))
            return callback

        return register

    @route("GET", "/health")
    def health() -> bottle.HTTPResponse:
        return _ok({"status": "ok"})

    @route("POST", "/user")
    def user() -> bottle.HTTPResponse:
        body = _body()
        authenticate(body)
        email = _text(body, "email", _EMAIL, "Email not received").lower()
        known = store.basiq_user(email)
        basiq_user = known or provider.basiq_user(email)
        if not known:
            store.remember_user(email, basiq_user)
        return _ok({"type": "user", "id": basiq_user, "email": email})

    @route("POST", "/access_token")
    def access_token() -> bottle.HTTPResponse:
        body = _body()
        authenticate(body)
        user_id = body.get("user_id")
        if user_id is not None:
            user_id = _text(body, "user_id", _ID, "user_id not received")
        elif provider.binds_tokens:
            raise Refused(
                400, "user_id is required: client tokens are bound to a user.", "user_id-missing"
            )
        token = provider.issue_client_token(user_id)
        return _ok(
            {"access_token": token.value, "token_type": "Bearer", "expires_in": token.expires_in}
        )

    @route("POST", "/connections")
    def connections() -> bottle.HTTPResponse:
        body = _body()
        authenticate(body)
        user_id = _text(body, "user_id", _ID, "user_id not received")
        connection_id = _text(body, "connection_id", _ID, "connection_id not received")
        store.report_connection(connection_id, user_id)
        return _ok({"user_id": user_id, "connection_id": connection_id}, 201)

    @route("GET", "/users/<user_id>/connections")
    def user_connections(user_id: str) -> bottle.HTTPResponse:
        authenticate({})
        if not _ID.match(user_id):
            raise Refused(400, "user_id is not valid.", "user_id-invalid")
        rows = [
            {"id": item.id, "created": item.created, "status": item.status}
            for item in store.connections()
            if item.user_id == user_id
        ]
        return _ok(rows)

    def on_error(error: bottle.HTTPError) -> str:
        bottle.response.content_type = JSON
        if error.status_code in (404, 405):
            message, code = f"No {bottle.request.method} {bottle.request.path} here.", "not-found"
        else:
            log.error("internal error: %r\n%s", error.exception, error.traceback)
            message, code = "The server failed; its log has the details.", "internal-error"
        return json.dumps({"success": False, "errorMessage": message, "error": {"code": code}})

    app.default_error_handler = on_error
    return app


@dataclass
class Server:
    """The reference server's parts: the WSGI app, its store, and a dev emulator if any."""

    app: bottle.Bottle
    store: Store
    upstream: str
    emulator: Emulator | None = None

    def close(self) -> None:
        if self.emulator is not None:
            self.emulator.stop()
        self.store.close()


def build_server(
    settings: Settings,
    *,
    upstream: str | None = None,
    database: Path | None = None,
    client_ids: Sequence[str] = (),
    allow_emulator: bool = True,
) -> Server:
    """Upstream Basiq and the key from settings (or the keyring); no key means the emulator."""
    key = settings.api_key.get_secret_value() if settings.api_key else keychain.api_key()
    upstream = upstream or (str(settings.api_url) if settings.api_url else None)
    if key is None and (upstream or not allow_emulator):
        raise SettingsError(
            "The server needs the Basiq API key: set BLINK_DESKTOP_API_KEY or run "
            "`blink-desktop login`."
        )
    database = database or settings.data_dir / "server.sqlite"
    store = Store(database)  # first: it creates the data folder the emulator's state needs
    emulator: Emulator | None = None
    try:
        if key is None:
            # Its state sits beside the server's, so the users the server remembers stay real.
            emulator = Emulator(
                state_path=database.with_name(database.stem + "-emulator.sqlite"),
                job_speed=settings.emulator_job_speed,
            ).start()
            upstream, key = emulator.url, emulator.api_key
        else:
            logs.redactor.add_secret(key)
        client = BasiqClient(upstream or BASIQ_API, version=settings.basiq_version)
        provider = DirectProvider(client, key, known_users=store.basiq_user)
        app = create_app(provider, store, list(client_ids) or settings.client_ids)
    except BaseException:
        store.close()
        if emulator is not None:
            emulator.stop()
        raise
    return Server(app=app, store=store, upstream=upstream or BASIQ_API, emulator=emulator)


def wsgi() -> bottle.Bottle:
    """For a production WSGI server, e.g. `waitress-serve --call blink_desktop.server:wsgi`."""
    return build_server(load_settings(), allow_emulator=False).app

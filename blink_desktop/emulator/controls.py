"""The lifecycle controls over HTTP, under `/_emulator/`, a prefix no Basiq endpoint uses.

    GET  /_emulator/time                      {"now", "passedSeconds"}
    POST /_emulator/time                      {"days": 3} or {"seconds": 90}: let time pass
    GET  /_emulator/connections/{id}          {"id", "userId", "institution", "status", "broken"}
    POST /_emulator/connections/{id}/break    the same, once broken
    POST /_emulator/tokens/expire             204: every token issued so far has expired

They answer loopback callers only: the peer's address must be a loopback one (X-Forwarded-For
is not believed), and so must the `Host` the request names (a page whose name was rebound to
127.0.0.1 names its own) and its `Origin`, when it has one (a web page's request). Anything
else gets 403. Injected faults leave these paths alone: they are not Basiq's.
"""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import bottle

from blink_desktop.emulator import inputs, problems
from blink_desktop.emulator.lifecycle import DAY, MAX_DAYS, Lifecycle, UnknownConnection, shown
from blink_desktop.emulator.problems import Problem, not_found, not_valid
from blink_desktop.httpd import JSON, Environ, json_response

PREFIX = "/_emulator"
Callback = Callable[..., Any]
Route = Callable[[str, str], Callable[[Callback], Callback]]


def refusal(environ: Environ) -> str | None:
    """Why this request may not use the controls, or None when it comes from this machine."""
    if not _loopback(str(environ.get("REMOTE_ADDR") or "")):
        return "The emulator's controls answer callers on this machine (loopback) only."
    host = inputs.header(environ, "Host")
    if host is not None and not _loopback(_hostname(host)):
        return "The emulator's controls answer requests to a loopback address only."
    origin = inputs.header(environ, "Origin")
    if origin is not None and not _loopback(_hostname(origin, has_scheme=True)):
        return "The emulator's controls answer no web page but one served from this machine."
    return None


def _hostname(text: str, *, has_scheme: bool = False) -> str:
    try:
        return urlsplit(text if has_scheme else f"//{text}").hostname or ""
    except ValueError:
        return ""


def _loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback


def install(route: Route, lifecycle: Lifecycle) -> None:
    """Add the controls to the emulator's routes."""

    def guard() -> None:
        reason = refusal(bottle.request.environ)
        if reason is not None:
            raise Problem(403, "forbidden-access", "Forbidden Access", reason)

    def connection_id_known(connection_id: str) -> dict[str, Any]:
        try:
            return shown(lifecycle.connection(connection_id))
        except UnknownConnection:
            raise not_found("connection", "connectionId") from None

    @route("GET", f"{PREFIX}/time")
    def time() -> Any:
        guard()
        return json_response(lifecycle.time())

    @route("POST", f"{PREFIX}/time")
    def pass_time() -> Any:
        guard()
        lifecycle.pass_time(_seconds(_body()))
        return json_response(lifecycle.time())

    @route("GET", f"{PREFIX}/connections/<connection_id>")
    def connection(connection_id: str) -> Any:
        guard()
        return json_response(connection_id_known(connection_id))

    @route("POST", f"{PREFIX}/connections/<connection_id>/break")
    def break_connection(connection_id: str) -> Any:
        guard()
        connection_id_known(connection_id)
        return json_response(shown(lifecycle.break_connection(connection_id)))

    @route("POST", f"{PREFIX}/tokens/expire")
    def expire_tokens() -> Any:
        guard()
        lifecycle.expire_tokens()
        return bottle.HTTPResponse(status=204)


def _body() -> Any:
    environ = bottle.request.environ
    if inputs.content_type(environ) != JSON:
        raise problems.unsupported_content_type("request")
    return inputs.decode_json(inputs.body(environ))


def _seconds(body: Any) -> float:
    """`{"days": N}` and/or `{"seconds": N}`, added up."""
    if not isinstance(body, dict) or not ({"days", "seconds"} & body.keys()):
        raise not_valid('Say how long: {"days": 3} or {"seconds": 90}.', "days")
    total = 0.0
    for name, unit in (("days", DAY), ("seconds", 1.0)):
        value = body.get(name, 0)
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise not_valid(f"{name} must be a number, 0 or more.", name)
        total += value * unit
    if not math.isfinite(total) or total > MAX_DAYS * DAY:
        raise not_valid(f"Time passes by at most {MAX_DAYS} days at once.", "days")
    return total

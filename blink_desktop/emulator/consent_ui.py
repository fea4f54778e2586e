"""The emulated Consent UI: Basiq's hosted page at `<emulator URL>/home`, and the private calls
that page makes, as Basiq's own page calls Basiq's own back end.

The page (assets/consent/) runs in the person's browser with the client token it was given.
Each private call checks that token (a live CLIENT_ACCESS token bound to a user) and acts for
that user only: read the session, accept or revoke the consent, start a connection (a web login,
or an open-banking approval or denial) and delete one. The public API stays as Basiq has it:
under 3.0 a client cannot post credentials there, but the Consent UI can, here.

`ConsentUiSettings` holds what Basiq's dashboard holds for an application: its name, shown to
the person, and its one redirect URL. Both may change while the emulator runs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import bottle

from blink_desktop import paths
from blink_desktop.emulator import catalogue, consents, inputs, problems, views
from blink_desktop.emulator.auth import Auth
from blink_desktop.emulator.consents import Consents
from blink_desktop.emulator.links import Links
from blink_desktop.emulator.problems import Problem, not_supplied, not_valid
from blink_desktop.emulator.rules import Rules
from blink_desktop.httpd import JSON, json_response

Callback = Callable[..., Any]
Route = Callable[[str, str], Callable[[Callback], Callback]]
DEFAULT_APP_NAME = "Your application"
# Schemes a browser would run or read locally rather than leave for: never a redirect URL.
_REFUSED_SCHEMES = {"javascript", "data", "vbscript", "blob", "file", "about", "filesystem"}


@dataclass
class ConsentUiSettings:
    """The application as the Consent UI knows it (in Basiq, from its dashboard)."""

    app_name: str = DEFAULT_APP_NAME
    redirect_url: str | None = None


def checked_redirect_url(url: str | None) -> str | None:
    """A redirect URL the page can navigate to: absolute, http(s) or an app's own scheme."""
    if url is None or not url.strip():
        return None
    url = url.strip()
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if not scheme or scheme in _REFUSED_SCHEMES or not (parts.netloc or parts.path):
        raise ValueError(
            f"the redirect URL {url!r} is not an absolute URL the browser can go to "
            "(e.g. https://app.example/basiq/return, or myapp://basiq)"
        )
    if scheme in ("http", "https") and not parts.hostname:
        raise ValueError(f"the redirect URL {url!r} has no host")
    return url


def install(
    app: bottle.Bottle,
    route: Route,
    auth: Auth,
    rules: Rules,
    consented: Consents,
    settings: ConsentUiSettings,
    links: Links,
) -> None:
    """Add the page, its files and its private calls to the emulator's routes."""

    def person() -> str:
        """The user whose bound client token the page holds."""
        claims = auth.authenticate(inputs.header(bottle.request.environ, "Authorization"), "any")
        if claims.is_server or not claims.user_id:
            raise Problem(
                403,
                "forbidden-access",
                "Forbidden Access",
                "The Consent UI needs a CLIENT_ACCESS token bound to a user: ask /token for "
                "scope=CLIENT_ACCESS with the userId.",
                parameter="token",
            )
        return claims.user_id

    def body() -> Any:
        environ = bottle.request.environ
        if inputs.content_type(environ) != JSON:
            raise problems.unsupported_content_type("request")
        return inputs.decode_json(inputs.body(environ))

    @route("GET", "/consent/api/session")
    def session() -> Any:
        user_id = person()
        rules.user(user_id)
        now = consented.clock()
        return json_response(
            {
                "userId": user_id,
                "now": views.iso(now),  # the page's dates follow the emulator's clock
                "application": {"name": settings.app_name},
                "redirectUrl": settings.redirect_url,
                "policy": consents.policy(links),
                "consents": [consents.view(row, now, links) for row in consented.of(user_id)],
                "connections": [
                    views.connection(row, links, server=True, v3=True)
                    for row in rules.connections(user_id)
                    if row["last_used"] is not None  # made, not a login still on its way
                ],
            }
        )

    @route("POST", "/consent/api/consents")
    def accept() -> Any:
        user_id = person()
        row = consented.accept(user_id)
        return json_response(consents.view(row, consented.clock(), links), 201)

    @route("DELETE", "/consent/api/consents/<consent_id>")
    def revoke(consent_id: str) -> Any:
        user_id = person()
        consented.revoke(user_id, consent_id)
        return bottle.HTTPResponse(status=204)

    @route("POST", "/consent/api/connections")
    def connect() -> Any:
        user_id = person()
        if consented.active(user_id) is None:
            raise Problem(
                403,
                "forbidden-access",
                "Forbidden Access",
                "There is no active consent: the person must accept it before connecting.",
            )
        request = body()
        if not isinstance(request, dict):
            raise not_valid("Posted connection is not in valid format.")
        job_id = _start(rules, user_id, request)
        return json_response(views.job_started(job_id, links), 202)

    @route("DELETE", "/consent/api/connections/<connection_id>")
    def delete(connection_id: str) -> Any:
        user_id = person()
        rules.delete_connection(user_id, connection_id)
        return bottle.HTTPResponse(status=204)

    page_dir = str(paths.assets_dir() / "consent")

    def page() -> Any:
        return bottle.static_file("index.html", root=page_dir)

    def files(path: str) -> Any:
        return bottle.static_file(path, root=page_dir)

    route("GET", "/home")(page)
    route("GET", "/consent/static/<path:path>")(files)


def _start(rules: Rules, user_id: str, request: dict[str, Any]) -> str:
    """A web login, or an open-banking decision, for a new connection or `connectionId`'s."""
    connection_id = request.get("connectionId") or None
    if connection_id is not None and not isinstance(connection_id, str):
        raise not_valid("connectionId must be a string.", "connectionId")
    named = request.get("institution")
    institution_id = named.get("id") if isinstance(named, dict) else None
    if connection_id:
        institution_id = rules.connection(user_id, connection_id)["institution_id"]
    if not institution_id or not isinstance(institution_id, str):
        raise not_supplied(
            "Institution ID  parameter is required.", "id", "connection/institution/id"
        )
    institution = catalogue.find(institution_id)
    if institution is None:
        raise not_valid("Requested institution does not exist.", "id", "connection/institution/id")
    if catalogue.method(institution) == "openbanking":
        decision = request.get("authorisation")
        if decision not in ("approved", "denied"):
            raise not_valid("authorisation must be approved or denied.", "authorisation")
        return rules.authorise(user_id, institution_id, decision == "approved", connection_id)
    if connection_id:
        return rules.relogin(user_id, connection_id, request, mfa=True)
    return rules.login(user_id, request, mfa=True)

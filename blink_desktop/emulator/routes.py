"""The emulator's HTTP face: bottle routes that authenticate, apply the rules and render views.

Each API route settles finished job steps first, checks its token (auth.py), reads the JSON
body, asks `Rules` to act, and answers a view whose links hang off the emulator's own address
(never the Host a request names). Headers, query and body are read through inputs.py, which
no bytes can make raise. A raised `Problem` becomes Basiq's error envelope through httpd's
`JsonErrors` plugin, which also answers unknown paths and wrong methods; anything else a route
raises is a bug: one ERROR line (its traceback at DEBUG) and Basiq's 500. The Blink page, logos
and the JS control are static files on the same server; the Consent UI (its page and the
private calls it makes) is consent_ui.py's; the lifecycle controls under /_emulator/ are
controls.py's.

Answers take the shapes of the token's basiq-version: 3.0's (`claims.v3`), or exactly those of
1.0 to 2.1. Under 3.0, connections are made only through the Consent UI.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl

import bottle

from blink_desktop import paths
from blink_desktop.emulator import (
    consent_ui,
    consents,
    controls,
    events,
    inputs,
    problems,
    views,
    webhooks,
)
from blink_desktop.emulator.auth import Auth, Need, TokenRateLimit
from blink_desktop.emulator.clock import Clock
from blink_desktop.emulator.consent_ui import ConsentUiSettings
from blink_desktop.emulator.consents import Consents
from blink_desktop.emulator.lifecycle import Lifecycle
from blink_desktop.emulator.links import Links
from blink_desktop.emulator.problems import not_valid
from blink_desktop.emulator.rules import Rules
from blink_desktop.emulator.tokens import Claims
from blink_desktop.emulator.webhooks import Webhooks
from blink_desktop.httpd import JSON, HttpProblem, JsonErrors, json_response
from blink_desktop.logs import redactor

log = logging.getLogger("blink_desktop.emulator")

Callback = Callable[..., Any]


def _header(name: str) -> str | None:
    return inputs.header(bottle.request.environ, name)


def _json_body(what: str) -> Any:
    environ = bottle.request.environ
    if inputs.content_type(environ) != JSON:
        raise problems.unsupported_content_type(what)
    return inputs.decode_json(inputs.body(environ))


def _token_fields() -> dict[str, Any]:
    """/token takes a form, as Basiq documents, or JSON, as Basiq's example server sends."""
    environ = bottle.request.environ
    raw = inputs.body(environ)
    if inputs.content_type(environ) != JSON:
        return dict(parse_qsl(raw.decode("utf-8", "replace")))
    fields = inputs.decode_json(raw)
    if not isinstance(fields, dict):
        raise not_valid("The request body must be a JSON object.")
    return fields


def _crashed(exc: Exception) -> bottle.HTTPResponse:
    """A bug, not bad input: one ERROR line, the traceback at DEBUG, and Basiq's 500."""
    method, path = bottle.request.method, redactor.scrub(bottle.request.path)
    log.error("internal error on %s %s: %r", method, path, exc)
    log.debug("traceback of the internal error on %s %s", method, path, exc_info=exc)
    return problems.fallback(500, method, path).response()


def _guarded(callback: Callback, before: Callable[[], None] | None = None) -> Callback:
    """`callback` (after `before`), whose crashes are caught here: bottle would print their
    tracebacks to stderr."""

    def guarded(*args: Any, **kwargs: Any) -> Any:
        try:
            if before is not None:
                before()
            return callback(*args, **kwargs)
        except (HttpProblem, bottle.HTTPResponse):
            raise  # Basiq's error answers (JsonErrors), and bottle's own answers
        except Exception as exc:
            return _crashed(exc)

    return guarded


def build_app(
    auth: Auth,
    rules: Rules,
    *,
    clock: Clock,
    links: Links,
    consented: Consents,
    hooks: Webhooks,
    consent_settings: ConsentUiSettings,
    lifecycle: Lifecycle,
    rate_limit: TokenRateLimit | None = None,
) -> bottle.Bottle:
    """The routes; every link in their answers hangs off `links`, the emulator's own address."""
    app = bottle.Bottle(catchall=True)
    app.install(
        JsonErrors(
            lambda status: problems.fallback(status, bottle.request.method, bottle.request.path),
            logger=log,
        )
    )
    limiter = rate_limit or TokenRateLimit(clock=clock)

    def route(method: str, path: str) -> Callable[[Callback], Callback]:
        def register(callback: Callback) -> Callback:
            app.route(path, method, _guarded(callback, lambda: rules.settle()))
            return callback

        return register

    def check(need: Need, user_id: str | None = None) -> Claims:
        return auth.authenticate(_header("Authorization"), need, user_id)

    def query(name: str) -> str | None:
        return inputs.query(bottle.request.environ, name)

    @route("POST", "/token")
    def token() -> Any:
        # The peer's address, not X-Forwarded-For, which any client can write.
        limiter.check(str(bottle.request.environ.get("REMOTE_ADDR") or "?"))
        issued = auth.issue(_header("Authorization"), _header("basiq-version"), _token_fields())
        return json_response(views.token(issued, auth.token_ttl))

    @route("GET", "/public/institutions")
    def public_institutions() -> Any:
        return json_response(views.institutions(query("filter"), links))

    @route("GET", "/institutions")
    def institutions() -> Any:
        check("any")
        return json_response(views.institutions(query("filter"), links))

    @route("GET", "/institutions/<institution_id>")
    def institution(institution_id: str) -> Any:
        check("any")
        return json_response(views.institution(institution_id, links))

    @route("POST", "/users")
    def create_user() -> Any:
        check("server")
        return json_response(views.new_user(rules.create_user(_json_body("user")), links), 201)

    def user_view(user_id: str) -> Any:
        user = rules.user(user_id)
        return json_response(views.user(user, rules.connections(user_id), links))

    @route("GET", "/users/<user_id>")
    def get_user(user_id: str) -> Any:
        check("any", user_id)
        return user_view(user_id)

    @route("POST", "/users/<user_id>")
    def update_user(user_id: str) -> Any:
        check("server")
        rules.update_user(user_id, _json_body("user"))
        return user_view(user_id)

    @route("DELETE", "/users/<user_id>")
    def delete_user(user_id: str) -> Any:
        check("owner", user_id)
        rules.delete_user(user_id)
        return bottle.HTTPResponse(status=204)

    @route("GET", "/users/<user_id>/connections")
    def list_connections(user_id: str) -> Any:
        claims = check("server")
        rows = rules.connections(user_id)
        shown = views.connections(user_id, rows, query("filter"), links, v3=claims.v3)
        return json_response(shown)

    @route("POST", "/users/<user_id>/connections")
    def create_connection(user_id: str) -> Any:
        claims = check("any", user_id)
        if claims.v3:
            raise problems.consent_ui_only(links.consent_ui())
        job_id = rules.create_connection(claims, user_id, _json_body("connection"))
        return json_response(views.job_started(job_id, links), 202)

    @route("POST", "/users/<user_id>/connections/refresh")
    def refresh_all(user_id: str) -> Any:
        check("server")
        return json_response(views.jobs_started(rules.refresh_all(user_id), links), 202)

    @route("GET", "/users/<user_id>/connections/<connection_id>")
    def get_connection(user_id: str, connection_id: str) -> Any:
        claims = check("any", user_id)
        row = rules.connection(user_id, connection_id)
        return json_response(views.connection(row, links, server=claims.is_server, v3=claims.v3))

    @route("POST", "/users/<user_id>/connections/<connection_id>")
    def update_connection(user_id: str, connection_id: str) -> Any:
        claims = check("any", user_id)
        if claims.v3:
            raise problems.consent_ui_only(links.consent_ui())
        body = _json_body("connection")
        job_id = rules.update_connection(claims, user_id, connection_id, body)
        return json_response(views.job_started(job_id, links), 202)

    @route("DELETE", "/users/<user_id>/connections/<connection_id>")
    def delete_connection(user_id: str, connection_id: str) -> Any:
        check("owner", user_id)
        rules.delete_connection(user_id, connection_id)
        return bottle.HTTPResponse(status=204)

    @route("POST", "/users/<user_id>/connections/<connection_id>/refresh")
    def refresh_connection(user_id: str, connection_id: str) -> Any:
        check("server")
        job_id = rules.refresh_connection(user_id, connection_id)
        return json_response(views.job_started(job_id, links), 202)

    @route("GET", "/jobs/<job_id>")
    def get_job(job_id: str) -> Any:
        claims = check("any")
        return json_response(views.job(rules.job(claims, job_id), clock(), links, v3=claims.v3))

    @route("POST", "/jobs/<job_id>/mfa")
    def answer_mfa(job_id: str) -> Any:
        claims = check("client")
        rules.answer_mfa(claims, job_id, _json_body("MFA response"))
        return json_response(views.job_started(job_id, links), 202)

    @route("GET", "/users/<user_id>/jobs")
    def list_jobs(user_id: str) -> Any:
        claims = check("server")
        shown = views.jobs(user_id, rules.jobs(user_id), clock(), links, v3=claims.v3)
        return json_response(shown)

    @route("GET", "/users/<user_id>/accounts")
    def list_accounts(user_id: str) -> Any:
        check("server")
        rows = rules.connections(user_id)
        return json_response(views.accounts(user_id, rows, query("filter"), links))

    @route("GET", "/users/<user_id>/accounts/<account_id>")
    def get_account(user_id: str, account_id: str) -> Any:
        check("server")
        rows = rules.connections(user_id)
        return json_response(views.account(rows, account_id, links))

    @route("GET", "/users/<user_id>/transactions")
    def list_transactions(user_id: str) -> Any:
        check("server")
        page = views.transactions(
            user_id,
            rules.connections(user_id),
            links,
            filter_text=query("filter"),
            limit_text=query("limit"),
            cursor=query("next"),
        )
        return json_response(page)

    @route("GET", "/users/<user_id>/transactions/<transaction_id>")
    def get_transaction(user_id: str, transaction_id: str) -> Any:
        check("server")
        rows = rules.connections(user_id)
        return json_response(views.transaction(rows, transaction_id, links))

    @route("GET", "/users/<user_id>/consents")
    def list_consents(user_id: str) -> Any:
        check("owner", user_id)
        rows = consented.of(user_id)
        return json_response(consents.listed(user_id, rows, clock(), links))

    @route("DELETE", "/users/<user_id>/consents/<consent_id>")
    def revoke_consent(user_id: str, consent_id: str) -> Any:
        check("server")
        consented.revoke(user_id, consent_id)
        return bottle.HTTPResponse(status=204)

    @route("GET", "/consent/policy")
    def consent_policy() -> Any:
        return json_response(consents.policy(links))

    @route("POST", "/notifications/webhooks")
    def create_webhook() -> Any:
        check("server")
        return json_response(webhooks.view(hooks.create(_json_body("webhook")), links), 201)

    @route("GET", "/notifications/webhooks")
    def list_webhooks() -> Any:
        check("server")
        return json_response(webhooks.listed(hooks.all(), links))

    @route("GET", "/notifications/webhooks/<webhook_id>")
    def get_webhook(webhook_id: str) -> Any:
        check("server")
        return json_response(webhooks.view(hooks.get(webhook_id), links))

    @route("DELETE", "/notifications/webhooks/<webhook_id>")
    def delete_webhook(webhook_id: str) -> Any:
        check("server")
        hooks.delete(webhook_id)
        return bottle.HTTPResponse(status=204)

    @route("GET", "/events/<event_id>")
    def get_event(event_id: str) -> Any:
        check("server")
        return json_response(events.view(rules.events.get(event_id), links))

    consent_ui.install(app, route, auth, rules, consented, consent_settings, links)
    controls.install(route, lifecycle)
    _static(app)
    return app


def _static(app: bottle.Bottle) -> None:
    """The Blink page, what it shares with the Consent UI, the institutions' logos, the JS
    control."""
    blink_dir = str(paths.assets_dir() / "blink")
    common_dir = str(paths.assets_dir() / "common")
    logo_dir = str(paths.assets_dir() / "emulator" / "logos")
    control_dir = str(paths.assets_dir() / "control")

    def blink_page() -> Any:
        return bottle.static_file("index.html", root=blink_dir)

    def files(root: str) -> Callback:
        def serve(path: str) -> Any:
            return bottle.static_file(path, root=root)

        return _guarded(serve)

    for page in ("/", "/index.html"):
        app.route(page, "GET", _guarded(blink_page))
    app.route("/static/<path:path>", "GET", files(blink_dir))
    app.route("/common/<path:path>", "GET", files(common_dir))
    app.route("/logos/<path>", "GET", files(logo_dir))  # one name, no slash
    app.route("/control/<path:path>", "GET", files(control_dir))

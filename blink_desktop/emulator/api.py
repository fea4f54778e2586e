"""The emulator's HTTP face: bottle routes over the Sandbox, and the middleware a public API has."""

from __future__ import annotations

import collections
import json
import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qsl

import bottle

from blink_desktop import paths
from blink_desktop.emulator.faults import Faults
from blink_desktop.emulator.problems import Problem, not_valid
from blink_desktop.emulator.sandbox import Need, Sandbox
from blink_desktop.logs import redactor

log = logging.getLogger("blink_desktop.emulator")

MAX_BODY = 1024 * 1024
JSON = "application/json"
CORS_HEADERS = [
    ("Access-Control-Allow-Origin", "*"),
    ("Access-Control-Expose-Headers", "Retry-After"),
]
PREFLIGHT_HEADERS = [
    ("Access-Control-Allow-Methods", "GET, POST, DELETE, OPTIONS"),
    ("Access-Control-Max-Age", "600"),
]
ALLOWED_HEADERS = "Authorization, Content-Type, Accept, basiq-version"

Environ = dict[str, Any]
StartResponse = Callable[..., Any]


def _json(body: Any, status: int = 200) -> bottle.HTTPResponse:
    return bottle.HTTPResponse(json.dumps(body), status=status, headers={"Content-Type": JSON})


def _problem(problem: Problem) -> bottle.HTTPResponse:
    response = _json(problem.envelope(), problem.status)
    for name, value in problem.headers.items():
        response.set_header(name, value)
    return response


def _base() -> str:
    scheme, netloc = bottle.request.urlparts[:2]
    return f"{scheme}://{netloc}"


def _json_body(what: str) -> Any:
    content_type = (bottle.request.content_type or "").split(";")[0].strip().lower()
    if content_type != JSON:
        raise Problem(
            415,
            "unsupported-content-type",
            "Content type not supported.",
            f"The {what} must be sent as application/json.",
            parameter="Content-Type",
        )
    return _decode(bottle.request.body.read())


def _decode(raw: bytes) -> Any:
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise not_valid("The request body is not valid JSON.") from None


class TokenRateLimit:
    """Basiq allows 1,500 /token requests per client address per 5 minutes."""

    def __init__(self, limit: int = 1500, window: float = 300.0) -> None:
        self.limit, self.window = limit, window
        self._seen: dict[str, collections.deque[float]] = collections.defaultdict(collections.deque)
        self._lock = threading.Lock()

    def check(self, address: str) -> None:
        now = time.monotonic()
        with self._lock:
            seen = self._seen[address]
            while seen and seen[0] <= now - self.window:
                seen.popleft()
            if len(seen) >= self.limit:
                retry = max(1, int(seen[0] + self.window - now) + 1)
                raise Problem(
                    429,
                    "too-many-requests",
                    "Too many requests",
                    f"More than {self.limit} token requests in {int(self.window)} s; reuse tokens.",
                    headers={"Retry-After": str(retry)},
                )
            seen.append(now)


def build_app(sandbox: Sandbox, rate_limit: TokenRateLimit | None = None) -> bottle.Bottle:
    app = bottle.Bottle(catchall=True)
    limiter = rate_limit or TokenRateLimit()
    blink_dir = str(paths.assets_dir() / "blink")
    logo_dir = str(paths.assets_dir() / "emulator" / "logos")
    control_dir = str(paths.assets_dir() / "control")

    def api(callback: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                sandbox.settle()
                return callback(*args, **kwargs)
            except Problem as problem:
                return _problem(problem)

        return wrapper

    def auth(need: Need, user_id: str | None = None) -> Any:
        return sandbox.authenticate(bottle.request.get_header("Authorization"), need, user_id)

    def route(method: str, path: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        def register(callback: Callable[..., Any]) -> Callable[..., Any]:
            app.route(path, method, api(callback))
            return callback

        return register

    @route("POST", "/token")
    def token() -> Any:
        limiter.check(bottle.request.remote_addr or "?")
        content_type = (bottle.request.content_type or "").split(";")[0].strip().lower()
        raw = bottle.request.body.read()
        if content_type == JSON:
            fields = _decode(raw)
            if not isinstance(fields, dict):
                raise not_valid("The request body must be a JSON object.")
        else:
            fields = dict(parse_qsl(raw.decode("utf-8", "replace")))
        return _json(
            sandbox.issue_token(
                bottle.request.get_header("Authorization"),
                bottle.request.get_header("basiq-version"),
                fields,
            )
        )

    @route("GET", "/public/institutions")
    def public_institutions() -> Any:
        return _json(sandbox.institutions(bottle.request.query.get("filter"), _base()))

    @route("GET", "/institutions")
    def institutions() -> Any:
        auth("any")
        return _json(sandbox.institutions(bottle.request.query.get("filter"), _base()))

    @route("GET", "/institutions/<institution_id>")
    def institution(institution_id: str) -> Any:
        auth("any")
        return _json(sandbox.institution(institution_id, _base()))

    @route("POST", "/users")
    def create_user() -> Any:
        auth("server")
        return _json(sandbox.create_user(_json_body("user"), _base()), 201)

    @route("GET", "/users/<user_id>")
    def get_user(user_id: str) -> Any:
        auth("any", user_id)
        return _json(sandbox.user_view(user_id, _base()))

    @route("POST", "/users/<user_id>")
    def update_user(user_id: str) -> Any:
        auth("server")
        return _json(sandbox.update_user(user_id, _json_body("user"), _base()))

    @route("DELETE", "/users/<user_id>")
    def delete_user(user_id: str) -> Any:
        auth("server")
        sandbox.delete_user(user_id)
        return bottle.HTTPResponse(status=204)

    @route("GET", "/users/<user_id>/connections")
    def list_connections(user_id: str) -> Any:
        auth("server")
        return _json(sandbox.connections_view(user_id, bottle.request.query.get("filter"), _base()))

    @route("POST", "/users/<user_id>/connections")
    def create_connection(user_id: str) -> Any:
        claims = auth("any", user_id)
        body = _json_body("connection")
        return _json(sandbox.create_connection(claims, user_id, body, _base()), 202)

    @route("POST", "/users/<user_id>/connections/refresh")
    def refresh_all(user_id: str) -> Any:
        auth("server")
        return _json(sandbox.refresh_all(user_id, _base()), 202)

    @route("GET", "/users/<user_id>/connections/<connection_id>")
    def get_connection(user_id: str, connection_id: str) -> Any:
        claims = auth("any", user_id)
        return _json(sandbox.connection_view(claims, user_id, connection_id, _base()))

    @route("POST", "/users/<user_id>/connections/<connection_id>")
    def update_connection(user_id: str, connection_id: str) -> Any:
        claims = auth("any", user_id)
        body = _json_body("connection")
        return _json(sandbox.update_connection(claims, user_id, connection_id, body, _base()), 202)

    @route("DELETE", "/users/<user_id>/connections/<connection_id>")
    def delete_connection(user_id: str, connection_id: str) -> Any:
        auth("server")
        sandbox.delete_connection(user_id, connection_id)
        return bottle.HTTPResponse(status=204)

    @route("POST", "/users/<user_id>/connections/<connection_id>/refresh")
    def refresh_connection(user_id: str, connection_id: str) -> Any:
        auth("server")
        return _json(sandbox.refresh_connection(user_id, connection_id, _base()), 202)

    @route("GET", "/jobs/<job_id>")
    def get_job(job_id: str) -> Any:
        claims = auth("any")
        return _json(sandbox.job_view(claims, job_id, _base()))

    @route("POST", "/jobs/<job_id>/mfa")
    def answer_mfa(job_id: str) -> Any:
        claims = auth("client")
        body = _json_body("MFA response")
        return _json(sandbox.answer_mfa(claims, job_id, body, _base()), 202)

    @route("GET", "/users/<user_id>/jobs")
    def list_jobs(user_id: str) -> Any:
        auth("server")
        return _json(sandbox.jobs_view(user_id, _base()))

    @route("GET", "/users/<user_id>/accounts")
    def list_accounts(user_id: str) -> Any:
        auth("server")
        return _json(sandbox.accounts(user_id, bottle.request.query.get("filter"), _base()))

    @route("GET", "/users/<user_id>/accounts/<account_id>")
    def get_account(user_id: str, account_id: str) -> Any:
        auth("server")
        return _json(sandbox.account(user_id, account_id, _base()))

    @route("GET", "/users/<user_id>/transactions")
    def list_transactions(user_id: str) -> Any:
        auth("server")
        query = bottle.request.query
        return _json(
            sandbox.transactions(
                user_id, query.get("filter"), query.get("limit"), query.get("next"), _base()
            )
        )

    @route("GET", "/users/<user_id>/transactions/<transaction_id>")
    def get_transaction(user_id: str, transaction_id: str) -> Any:
        auth("server")
        return _json(sandbox.transaction(user_id, transaction_id, _base()))

    def blink_page() -> Any:
        return bottle.static_file("index.html", root=blink_dir)

    for page in ("/", "/index.html"):
        app.route(page, "GET", blink_page)
    app.route("/static/<path:path>", "GET", lambda path: bottle.static_file(path, root=blink_dir))
    app.route("/logos/<name>", "GET", lambda name: bottle.static_file(name, root=logo_dir))
    app.route(
        "/control/<path:path>", "GET", lambda path: bottle.static_file(path, root=control_dir)
    )

    def on_error(error: bottle.HTTPError) -> str:
        if error.status_code == 405:
            problem = Problem(
                405,
                "method-not-allowed",
                "Method not allowed",
                f"{bottle.request.method} is not allowed on {bottle.request.path}.",
            )
        elif error.status_code == 404:
            problem = Problem(
                404,
                "resource-not-found",
                "Requested resource is not found.",
                f"No resource at {bottle.request.path}.",
            )
        else:
            if error.exception:
                log.error(
                    "internal error on %s %s: %r\n%s",
                    bottle.request.method,
                    bottle.request.path,
                    error.exception,
                    error.traceback,
                )
            problem = Problem(
                500,
                "internal-server-error",
                "Internal server error",
                "The emulator failed to handle this request; its log has the details.",
            )
        bottle.response.content_type = JSON
        return json.dumps(problem.envelope())

    app.default_error_handler = on_error
    return app


class Middleware:
    """What sits in front of every route: paths, size limit, CORS, faults and a log line."""

    def __init__(self, app: Callable[..., Iterable[bytes]], faults: Faults) -> None:
        self.app = app
        self.faults = faults

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        started = time.perf_counter()
        method = environ.get("REQUEST_METHOD", "GET")
        path = environ.get("PATH_INFO", "/")
        if len(path) > 1 and path.endswith("/"):
            path = environ["PATH_INFO"] = path.rstrip("/") or "/"
        seen: dict[str, str] = {}

        def respond(status: str, headers: list[tuple[str, str]], *args: Any) -> Any:
            seen["status"] = status.split(" ", 1)[0]
            return start_response(status, headers + CORS_HEADERS, *args)

        try:
            return self._handle(environ, respond, method, path)
        finally:
            query = environ.get("QUERY_STRING", "")
            target = redactor.scrub(f"{path}?{query}" if query else path)
            elapsed = (time.perf_counter() - started) * 1000
            log.info("%s %s %s %.1f ms", method, target, seen.get("status", "-"), elapsed)

    def _handle(
        self, environ: Environ, respond: StartResponse, method: str, path: str
    ) -> Iterable[bytes]:
        if method == "OPTIONS":
            requested = environ.get("HTTP_ACCESS_CONTROL_REQUEST_HEADERS") or ALLOWED_HEADERS
            respond(
                "204 No Content", PREFLIGHT_HEADERS + [("Access-Control-Allow-Headers", requested)]
            )
            return []
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > MAX_BODY:
            return self._send(
                respond,
                Problem(
                    413,
                    "invalid-content",
                    "Payload too large",
                    f"The request body is over {MAX_BODY} bytes.",
                ),
            )
        latency, fault = self.faults.pick(method, path)
        if latency:
            time.sleep(latency)
        if fault is not None:
            return self._send(respond, _fault_problem(fault.status, fault.retry_after))
        return self.app(environ, respond)

    @staticmethod
    def _send(respond: StartResponse, problem: Problem) -> Iterable[bytes]:
        body = json.dumps(problem.envelope()).encode()
        headers = [("Content-Type", JSON), ("Content-Length", str(len(body)))]
        headers += list(problem.headers.items())
        respond(f"{problem.status} {_REASONS[problem.status]}", headers)
        return [body]


_REASONS = {
    413: "Payload Too Large",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


def _fault_problem(status: int | None, retry_after: int) -> Problem:
    if status == 429:
        return Problem(
            429,
            "too-many-requests",
            "Too many requests",
            "Request rate limit reached.",
            headers={"Retry-After": str(retry_after)},
        )
    if status == 503:
        return Problem(
            503,
            "service-unavailable",
            "Service unavailable",
            "The service is temporarily unavailable. Please try again later.",
            headers={"Retry-After": str(retry_after)},
        )
    return Problem(
        500, "internal-server-error", "Internal server error", "An unexpected error occurred."
    )

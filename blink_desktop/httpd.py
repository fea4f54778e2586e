"""HTTP serving shared by the reference server and the emulator.

`Serving` runs a WSGI app on a threaded server (in a thread, or in the foreground);
`JsonErrors` is a bottle plugin that turns a raised `HttpProblem`, and bottle's own 404, 405
and 500, into a JSON answer in the product's own envelope; `access_log` writes one line per
request. Each product supplies only its envelope.
"""

from __future__ import annotations

import json
import logging
import socketserver
import threading
import time
from collections.abc import Callable, Iterable
from types import TracebackType
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import bottle

from blink_desktop.logs import redactor

JSON = "application/json"
Environ = dict[str, Any]
StartResponse = Callable[..., Any]
WsgiApp = Callable[[Environ, StartResponse], Iterable[bytes]]


class HttpProblem(Exception):
    """An error answer: a status, headers, and a JSON body in the product's envelope."""

    status: int = 500
    headers: dict[str, str]

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.headers = {}

    def body(self) -> dict[str, Any]:
        raise NotImplementedError

    def response(self) -> bottle.HTTPResponse:
        return json_response(self.body(), self.status, self.headers)


def json_response(
    body: Any, status: int = 200, headers: dict[str, str] | None = None
) -> bottle.HTTPResponse:
    response = bottle.HTTPResponse(json.dumps(body), status=status)
    response.set_header("Content-Type", JSON)
    for name, value in (headers or {}).items():
        response.set_header(name, value)
    return response


class JsonErrors:
    """Bottle plugin: every route answers an `HttpProblem` (or what `convert` makes of another
    exception) as JSON, and unknown paths, wrong methods and crashes get `fallback(status)`.
    """

    name = "json_errors"
    api = 2

    def __init__(
        self,
        fallback: Callable[[int], HttpProblem],
        *,
        convert: Callable[[Exception], HttpProblem | None] = lambda exc: None,
        logger: logging.Logger,
    ) -> None:
        self.fallback = fallback
        self.convert = convert
        self.log = logger

    def setup(self, app: bottle.Bottle) -> None:
        def on_error(error: bottle.HTTPError) -> str:
            status = error.status_code if error.status_code in (404, 405) else 500
            if status == 500 and error.exception is not None:
                self.log.error(
                    "internal error on %s %s: %r\n%s",
                    bottle.request.method,
                    redactor.scrub(bottle.request.path),
                    error.exception,
                    error.traceback,
                )
            bottle.response.content_type = JSON
            return json.dumps(self.fallback(status).body())

        app.default_error_handler = on_error

    def apply(self, callback: Callable[..., Any], route: bottle.Route) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                return callback(*args, **kwargs)
            except HttpProblem as problem:
                return problem.response()
            except bottle.HTTPResponse:
                raise
            except Exception as exc:
                converted = self.convert(exc)
                if converted is None:
                    raise
                return converted.response()

        return wrapper


def access_log(app: WsgiApp, logger: logging.Logger) -> WsgiApp:
    """One line per request (method, path and query scrubbed of secrets, status, time)."""

    def logged(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        started = time.perf_counter()
        seen: dict[str, str] = {}

        def respond(status: str, headers: list[tuple[str, str]], *args: Any) -> Any:
            seen["status"] = status.split(" ", 1)[0]
            return start_response(status, headers, *args)

        try:
            return app(environ, respond)
        finally:
            path = environ.get("PATH_INFO", "/")
            query = environ.get("QUERY_STRING", "")
            target = redactor.scrub(f"{path}?{query}" if query else path)
            logger.info(
                "%s %s %s %.1f ms",
                environ.get("REQUEST_METHOD", "GET"),
                target,
                seen.get("status", "-"),
                (time.perf_counter() - started) * 1000,
            )

    return logged


class _ThreadingServer(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        """`access_log` logs each request once, with secrets scrubbed."""


class Serving:
    """A WSGI app on a threaded HTTP server, bound at construction (port 0 picks a free one).

    `with Serving(app) as serving:` serves in a thread until the block ends;
    `serve_forever()` serves in the calling thread until interrupted.
    """

    def __init__(self, app: WsgiApp, host: str = "127.0.0.1", port: int = 0) -> None:
        self._server = make_server(
            host, port, app, server_class=_ThreadingServer, handler_class=_QuietHandler
        )
        self._thread: threading.Thread | None = None
        address, bound = str(self._server.server_address[0]), self._server.server_address[1]
        self.port: int = bound
        self.url = f"http://[{address}]:{bound}" if ":" in address else f"http://{address}:{bound}"

    def start(self, name: str = "httpd") -> Serving:
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name=name,
            daemon=True,
        )
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in this thread; the caller handles KeyboardInterrupt. Closes the socket after."""
        try:
            self._server.serve_forever(poll_interval=0.2)
        finally:
            self._server.server_close()

    def stop(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=10)
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> Serving:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

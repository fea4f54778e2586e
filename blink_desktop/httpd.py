"""HTTP serving shared by the reference server and the emulator.

`Serving` runs a WSGI app on waitress (in a thread, or in the foreground); `JsonErrors` is a
bottle plugin that turns a raised `HttpProblem`, and bottle's own 404, 405 and 500, into a JSON
answer in the product's own envelope; `access_log` writes one line per request. Each product
supplies only its envelope.

Waitress rather than the standard library's wsgiref: it listens with a real backlog, closes
connections that stay idle, serves from a bounded pool of threads (a request is handed to a
thread only once it has fully arrived, so a slow or silent client holds no thread), and reads
each body, with a Content-Length or chunked, into a capped buffer before the app sees it.
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterable
from types import TracebackType
from typing import Any

import bottle
from waitress import wasyncore  # type: ignore[import-untyped]
from waitress.channel import HTTPChannel  # type: ignore[import-untyped]
from waitress.server import create_server  # type: ignore[import-untyped]
from waitress.task import ErrorTask  # type: ignore[import-untyped]

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
                where = f"{bottle.request.method} {redactor.scrub(bottle.request.path)}"
                # One line a person reads; the traceback is for whoever debugs, at DEBUG.
                self.log.error("internal error on %s: %r", where, error.exception)
                self.log.debug("traceback of the error on %s:\n%s", where, error.traceback)
            problem = self.fallback(status)
            bottle.response.status = problem.status  # the status always matches the body
            bottle.response.content_type = JSON
            return json.dumps(problem.body())

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


MAX_BODY = 2 * 1024 * 1024
"""The largest request body `Serving` lets through by default, however it is sent (with a
Content-Length or chunked); a larger one is answered 413 before the app is called. Each product
refuses smaller bodies itself, in its own envelope (the emulator over 1 MiB, the reference
server over 64 KiB): waitress cannot know that envelope, so its cap sits above theirs."""

THREADS = 8  # requests served at once; the others wait in a queue, on no thread
CONNECTIONS = 100  # open connections; past this the server accepts no more until some close
BACKLOG = 1024  # connections the kernel holds until they are accepted
IDLE_TIMEOUT = 30  # seconds a connection may stay silent before the server closes it
STOP_TIMEOUT = 5.0  # seconds `stop()` gives the requests being served to finish

log = logging.getLogger("blink_desktop.httpd")


class _Refusal(ErrorTask):  # type: ignore[misc]
    """What waitress answers itself, before the app, to a request it refuses (a body over the
    cap, a bad Content-Length, broken chunks, headers too large): a JSON problem (RFC 9457)
    rather than plain text, and one log line, as the app's requests get."""

    def execute(self) -> None:
        error = self.request.error
        detail = str(error.body)
        if error.code == 413:
            limit = self.channel.server.adj.max_request_body_size - 1
            detail = f"The request body is over {limit} bytes."
        body = json.dumps({"title": error.reason, "status": error.code, "detail": detail}).encode()
        self.status = f"{error.code} {error.reason}"
        self.response_headers.append(("Content-Type", "application/problem+json"))
        self.set_close_on_finish()
        self.content_length = len(body)
        self.write(body)
        if error.code < 500:  # a crash was logged where it happened
            log.info(
                "%s %s %s refused: %s",
                getattr(self.request, "command", None) or "-",
                redactor.scrub(getattr(self.request, "path", None) or "-"),
                error.code,
                detail,
            )


class _Channel(HTTPChannel):  # type: ignore[misc]
    error_task_class = _Refusal


class _WaitressLog(logging.Handler):
    """Waitress's own log, rerouted to `blink_desktop.httpd`: a crash that escaped the app as
    one ERROR line (its traceback at DEBUG), the server's warnings as warnings, and its chatter
    (a busy queue, a client gone) at DEBUG."""

    def emit(self, record: logging.LogRecord) -> None:
        message = redactor.scrub(record.getMessage())
        if record.levelno >= logging.ERROR:
            error = record.exc_info[1] if record.exc_info else None
            log.error("%s%s", message, f": {error!r}" if error is not None else "")
            if record.exc_info:
                log.debug("%s", message, exc_info=record.exc_info)
        elif record.levelno >= logging.WARNING and record.name != "waitress.queue":
            log.warning("%s", message)
        else:
            log.debug("%s", message)


class _ErrorStream:
    """`wsgi.errors`: what an app writes there (bottle writes a crash's traceback) goes to the
    log at DEBUG, not to the console; the products log the crash itself."""

    def write(self, text: str) -> int:
        if text.strip():
            log.debug("%s", redactor.scrub(text.rstrip()))
        return len(text)

    def writelines(self, lines: Iterable[str]) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        pass


def _errors_logged(app: WsgiApp) -> WsgiApp:
    errors = _ErrorStream()

    def wrapped(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        environ["wsgi.errors"] = errors
        return app(environ, start_response)

    return wrapped


def _route_waitress_log() -> None:
    """Done when a server is made, not on import: under `waitress-serve` its log is left alone."""
    logger = logging.getLogger("waitress")
    if not any(isinstance(handler, _WaitressLog) for handler in logger.handlers):
        logger.addHandler(_WaitressLog())
        logger.propagate = False


def _bind(host: str, port: int) -> socket.socket:
    """A socket bound to the first address `host` has (IPv4 before IPv6, as `localhost` was)."""
    found = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    found.sort(key=lambda info: info[0] != socket.AF_INET)
    family, kind, proto, _, address = found[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # rebinds at once after stop
        sock.bind(address)
    except OSError:
        sock.close()
        raise
    return sock


class Serving:
    """A WSGI app on waitress, bound and listening at construction (port 0 picks a free one).

    `with Serving(app) as serving:` serves in a thread until the block ends;
    `serve_forever()` serves in the calling thread until interrupted (the KeyboardInterrupt
    reaches the caller) or stopped. Bodies over `max_body` bytes get 413 and never reach the app.
    """

    def __init__(
        self, app: WsgiApp, host: str = "127.0.0.1", port: int = 0, *, max_body: int = MAX_BODY
    ) -> None:
        _route_waitress_log()
        sock = _bind(host, port)
        self._map: dict[int, Any] = {}
        try:
            self._server = create_server(
                _errors_logged(app),
                map=self._map,
                sockets=[sock],
                threads=THREADS,
                connection_limit=CONNECTIONS,
                backlog=BACKLOG,
                channel_timeout=IDLE_TIMEOUT,
                cleanup_interval=min(IDLE_TIMEOUT, 10),
                max_request_body_size=max_body + 1,  # waitress refuses a body of this size
                asyncore_use_poll=True,  # select() fails past 1024 file descriptors
                log_socket_errors=False,  # a client that hangs up is no error of ours
                ident="blink-desktop",
            )
        except BaseException:
            sock.close()
            raise
        self._server.channel_class = _Channel
        self._server.pull_trigger = self._wake_loop
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._idle = threading.Event()  # set while no loop runs
        self._idle.set()
        self._closed = False  # no loop may start
        self._released = False
        address, bound = str(sock.getsockname()[0]), int(sock.getsockname()[1])
        self.port: int = bound
        self.url = f"http://[{address}]:{bound}" if ":" in address else f"http://{address}:{bound}"

    def start(self, name: str = "httpd") -> Serving:
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in this thread until interrupted or stopped; the caller handles
        KeyboardInterrupt. Closes the socket after."""
        try:
            self._loop()
        finally:
            self._release()

    def stop(self) -> None:
        """Close the socket at once (the port is free when this returns), give the requests
        being served a moment to finish, and join the serving thread."""
        with self._lock:
            running = not self._idle.is_set()
            self._closed = True
        if running:
            # The trigger runs this in the loop's thread; OSError: the loop has just ended.
            with contextlib.suppress(OSError):
                self._server.trigger.pull_trigger(self._close_sockets)
            self._idle.wait(timeout=10)
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        self._release()

    def _loop(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._idle.clear()
        try:
            wasyncore.loop(timeout=1.0, map=self._map, use_poll=True)
        finally:
            self._close_sockets()
            self._idle.set()

    def _wake_loop(self) -> None:
        """What a worker does when its response is written: wake the loop to send it. A worker
        that finishes just after `stop()` closed the trigger has nobody left to wake, and its
        client has had its answer: that is no error."""
        try:
            self._server.trigger.pull_trigger()
        except OSError:
            if not self._closed:
                raise

    def _close_sockets(self) -> None:
        """The listening socket, every connection and the trigger; the loop ends with them."""
        wasyncore.close_all(self._map, ignore_all=True)

    def _release(self) -> None:
        with self._lock:
            self._closed = True
            if self._released or not self._idle.is_set():
                return
            self._released = True
        self._close_sockets()
        self._server.task_dispatcher.shutdown(timeout=STOP_TIMEOUT)

    def __enter__(self) -> Serving:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

"""A threaded WSGI server from the standard library, for the emulator and `serve`."""

from __future__ import annotations

import socketserver
from collections.abc import Callable, Iterable
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server


class _ThreadingServer(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        """The application logs each request once, with secrets scrubbed."""


def make(host: str, port: int, app: Callable[..., Iterable[bytes]]) -> WSGIServer:
    """Bind now (port 0 picks a free one); serve with serve_forever()."""
    return make_server(host, port, app, server_class=_ThreadingServer, handler_class=_QuietHandler)


def url_of(server: WSGIServer) -> str:
    host, port = str(server.server_address[0]), server.server_address[1]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"

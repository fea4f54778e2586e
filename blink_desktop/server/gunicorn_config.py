"""gunicorn's settings for the reference server: several worker processes, each with threads.

    gunicorn -c python:blink_desktop.server.gunicorn_config --workers 4 --bind 127.0.0.1:8000

The command line (and GUNICORN_CMD_ARGS) wins over what is set here. The app is built in each
worker after the fork, never preloaded in the master: each worker has its own database pool,
its own server-token cache, and its own log handler (`post_fork`).
"""

from __future__ import annotations

import logging
import sys
from typing import Any

from blink_desktop.logs import redactor

wsgi_app = "blink_desktop.server:wsgi()"
bind = ["127.0.0.1:8000"]
worker_class = "gthread"
threads = 8  # as `serve` on waitress: a request waiting on Basiq or the database holds one
preload_app = False  # a database pool must not cross a fork
timeout = 60  # a worker whose main loop is silent this long is restarted (not a request limit)
graceful_timeout = 30  # on SIGTERM, how long the requests being served have to finish
keepalive = 5  # seconds an idle keep-alive connection is kept (behind a proxy that reuses them)
accesslog = None  # the app logs each request once, on blink_desktop.server
control_socket_disable = True  # gunicorn 24+: one per user by default, which instances share


def post_fork(server: Any, worker: Any) -> None:
    """The app's log lines (one per request; the database going and coming back) on stderr,
    scrubbed of secrets, beside gunicorn's own. psycopg's pool would also warn at each
    reconnection attempt while the database is away: the store says so once instead."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        logging.Formatter(
            "%(asctime)s [%(process)d] [%(levelname)s] %(name)s: %(message)s",
            "[%Y-%m-%d %H:%M:%S %z]",
        )
    )
    handler.addFilter(redactor)
    app = logging.getLogger("blink_desktop")
    app.addHandler(handler)
    app.setLevel(logging.INFO)
    app.propagate = False
    logging.getLogger("psycopg").setLevel(logging.ERROR)

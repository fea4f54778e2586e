"""The reference server: the half of Blink's architecture that holds the API key.

- `routes`: the WSGI app (bottle): `POST /user`, `POST /access_token`, `POST /connections`,
  `GET /users/{id}/connections`, `GET /health`, and Basiq's webhooks at `POST /webhooks/basiq`;
  `data_routes`: a user's accounts, transactions, refreshes and deletions (backend mode).
- `bodies`: the request bodies as pydantic models, and the server's error answers.
- `webhooks`: the webhooks verified and recorded once; `resolver`: their events read after.
- `store`: the server's own database's interface (users, reported connections, webhooks);
  `sqlite`: on SQLite; `postgres` (and `postgres_schema`): on PostgreSQL, for several workers
  and machines.
- `gunicorn_config`: gunicorn's settings for serving it with several worker processes.

`build_server` puts them together with an upstream from `upstream.py` (Basiq with the API key,
or, for development, an embedded emulator, at which `Server.listening` registers the server's
webhook receiver once it has an address); `wsgi` is the factory for a production WSGI
server, e.g. `gunicorn -c python:blink_desktop.server.gunicorn_config` (several processes) or
`waitress-serve --call blink_desktop.server:wsgi` (one).
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from blink_desktop import logs
from blink_desktop.basiq.client import BasiqClient
from blink_desktop.basiq.keyholder import KeyHolder
from blink_desktop.errors import BlinkError
from blink_desktop.httpd import WsgiApp
from blink_desktop.server import webhooks
from blink_desktop.server.resolver import Resolver, event_reader
from blink_desktop.server.routes import NO_CLIENT_IDS, create_app
from blink_desktop.server.store import Store, is_postgres_url, open_store
from blink_desktop.settings import Settings, load_settings
from blink_desktop.upstream import Upstream, key_or_emulator

__all__ = ["Server", "build_server", "create_app", "wsgi"]


@dataclass
class Server:
    """The reference server's parts: the WSGI app, its store, the Basiq it talks to, and its
    webhooks' receiver and resolver."""

    app: WsgiApp
    store: Store
    upstream: Upstream
    client: BasiqClient
    keyholder: KeyHolder
    receiver: webhooks.Receiver
    resolver: Resolver

    @property
    def emulated(self) -> bool:
        """True when the upstream is an embedded emulator (development only)."""
        return self.upstream.emulated

    def listening(self, url: str) -> str | None:
        """Once the server listens at `url`: with an embedded emulator, register its webhook
        receiver there and take the secret it signs with, so that the whole loop runs on one
        machine; the receiver's URL then, else None (Basiq's webhook is registered by hand)."""
        if not self.emulated:
            return None
        parts = urlsplit(url)
        if parts.hostname in ("0.0.0.0", "::"):  # listening everywhere: reachable on loopback
            loopback = "127.0.0.1" if parts.hostname == "0.0.0.0" else "[::1]"
            parts = parts._replace(netloc=f"{loopback}:{parts.port}")
        receiver = urlunsplit(parts._replace(path=webhooks.PATH, query="", fragment=""))
        secret = webhooks.register(self.client.http, self.keyholder.server_token(), receiver)
        logs.redactor.add_secret(secret)
        self.receiver.secret = secret
        return receiver

    def close(self) -> None:
        """Stop the resolver and an embedded emulator, and close the store."""
        try:
            self.resolver.stop()
            self.upstream.close()
        finally:
            self.store.close()


def build_server(
    settings: Settings,
    *,
    upstream: str | None = None,
    database: Path | str | None = None,
    client_ids: Sequence[str] = (),
    allow_emulator: bool = True,
) -> Server:
    """Basiq at `upstream` (or BLINK_DESKTOP_API_URL, or Basiq itself) with the API key from
    the settings or the keyring; with no key and no URL, an embedded emulator where allowed.
    The database is `database` (a SQLite file, or a postgresql:// URL), else
    BLINK_DESKTOP_DATABASE_URL, else server.sqlite in the data folder. Webhooks are verified
    with BLINK_DESKTOP_WEBHOOK_SECRET (an embedded emulator's own, once `listening`); the
    resolver that reads their events runs until `close()`.
    """
    client_ids = list(client_ids) or settings.client_ids
    if not client_ids:
        raise BlinkError(NO_CLIENT_IDS)  # before an emulator starts for nothing
    location = database or settings.database_url or settings.data_dir / "server.sqlite"
    with ExitStack() as undo:
        store = open_store(location)  # first: it creates the folder the emulator's state needs
        undo.callback(store.close)
        # The emulator's state sits beside the server's, so the users the server remembers
        # stay real across runs.
        if is_postgres_url(str(location)):
            state = settings.data_dir / "server-emulator.sqlite"
        else:
            file = Path(location)
            state = file.with_name(file.stem + "-emulator.sqlite")
        chosen = key_or_emulator(settings, state, api_url=upstream, emulate=allow_emulator)
        undo.callback(chosen.close)
        # A Retry-After from Basiq is passed on to the app at once, not waited out while the
        # app waits on us (past the /token rate limit that was 3 x 10 s).
        client = BasiqClient(
            chosen.api_url, version=settings.basiq_version, wait_out_retry_after=False
        )
        keyholder = KeyHolder(client, chosen.api_key)
        resolver = Resolver(store, event_reader(client, keyholder))
        secret = settings.webhook_secret.get_secret_value() if settings.webhook_secret else None
        if secret:
            logs.redactor.add_secret(secret)
        receiver = webhooks.Receiver(store, secret, recorded=resolver.kick)
        app = create_app(keyholder, store, client_ids, receiver)
        resolver.start()
        undo.pop_all()
    return Server(app, store, chosen, client, keyholder, receiver, resolver)


def wsgi() -> WsgiApp:
    """For a production WSGI server: settings from the environment, and never an emulator.
    Each worker process calls it once, after the fork, so each has its own database pool."""
    return build_server(load_settings(), allow_emulator=False).app

"""The desktop app without its window: settings → upstream, store, server role, connect service.

Tests and the command line build the app through here too; `window.run` adds the window.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal
from urllib.parse import urlsplit

from blink_desktop import logs, upstream
from blink_desktop.app.origins import origin
from blink_desktop.app.store import Store
from blink_desktop.errors import SettingsError

if TYPE_CHECKING:  # imported when the app is built: the first screen needs only the store
    from blink_desktop.app.connect import ConnectService, TokenProvider
    from blink_desktop.app.manager import ConnectionManager, DataSource
    from blink_desktop.app.outbox import Outbox
    from blink_desktop.settings import Settings

DATABASE = "blink-desktop.sqlite"
EMULATOR_STATE = "emulator.sqlite"
Mode = Literal["emulator", "direct", "backend"]
ApiKey = Callable[[], str | None]  # the configured API key, or None

log = logging.getLogger(__name__)


class RequestsAtDebug(logging.Filter):
    """The embedded emulator's one line per request, at DEBUG in the app's log.

    The emulator logs each request at INFO on `blink_desktop.emulator`, as its own command
    prints them. Inside the app they are noise (about fifty `GET /logos/… 304` per connect), so
    this filter on that logger relabels them DEBUG and keeps them only when the app logs at
    DEBUG (`--debug`); its warnings and errors pass as they are. A filter rather than a level on
    the logger: a level would drop the lines at DEBUG too, or leave them labelled INFO there.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno != logging.INFO:
            return True
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return logging.getLogger().isEnabledFor(logging.DEBUG)


EMULATOR_REQUESTS = RequestsAtDebug()
EMULATOR_LOGGER = "blink_desktop.emulator"


def database_path(settings: Settings) -> Path:
    return settings.data_dir / DATABASE


@dataclass
class App:
    service: ConnectService
    store: Store
    mode: Mode
    manager: ConnectionManager  # accounts, transactions, refresh, delete
    upstream: upstream.Upstream | None = None  # None in backend mode: your server holds the key
    outbox: Outbox | None = None

    def close(self) -> None:
        self.service.close()
        if self.outbox is not None:
            self.outbox.stop()
        if self.upstream is not None:
            self.upstream.close()
        self.store.close()
        log.info("blink-desktop stopped (%s mode)", self.mode)
        logging.getLogger(EMULATOR_LOGGER).removeFilter(EMULATOR_REQUESTS)


def choose_mode(settings: Settings, key: ApiKey | None = None) -> Mode:
    """backend when your server is set, direct when there is a key, else the emulator.
    `key` gives the configured API key (by default, `upstream.configured_key`)."""
    if settings.provider != "auto":
        return settings.provider
    if settings.backend_url is not None:
        return "backend"
    if (key or functools.partial(upstream.configured_key, settings))() is not None:
        return "direct"
    return "emulator"


def asks_for_key(settings: Settings) -> bool:
    """Whether building the app asks for the API key (the keyring, when none is set)."""
    if settings.provider == "auto":
        return settings.backend_url is None
    return settings.provider == "direct"


def open_store(settings: Settings) -> Store:
    """The app's database: all the window's first screen needs besides the settings."""
    return Store(database_path(settings))


def build(settings: Settings, store: Store | None = None, *, key: ApiKey | None = None) -> App:
    """The app on `store` (opened here when None; closed here only then, should this fail).
    `key` gives the configured API key, asked for at most once (see `asks_for_key`)."""
    owned = store is None
    store = open_store(settings) if store is None else store
    key = functools.cache(key or functools.partial(upstream.configured_key, settings))
    try:
        mode = choose_mode(settings, key)
        app = _build(settings, mode, store, key)
    except BaseException:
        if owned:
            store.close()
        logging.getLogger(EMULATOR_LOGGER).removeFilter(EMULATOR_REQUESTS)
        raise
    where = (
        f"your server at {_public(str(settings.backend_url))}"
        if app.upstream is None
        else f"the embedded emulator at {app.upstream.api_url}"
        if app.upstream.emulated
        else f"Basiq at {_public(app.upstream.api_url)}"
    )
    log.info(
        "blink-desktop started: %s mode, %s; Blink at %s; data in %s",
        mode,
        where,
        _public(app.service.blink_url),
        store.path,
    )
    return app


def _build(settings: Settings, mode: Mode, store: Store, key: ApiKey) -> App:
    from blink_desktop.app import consent
    from blink_desktop.app.backend import BackendClient
    from blink_desktop.app.connect import ConnectService
    from blink_desktop.app.manager import ConnectionManager
    from blink_desktop.app.outbox import Outbox
    from blink_desktop.basiq.client import BASIQ_API, BasiqClient
    from blink_desktop.basiq.keyholder import KeyHolder

    outbox: Outbox | None = None
    provider: TokenProvider
    source: DataSource  # the accounts and transactions: with the key, or from your server
    chosen: upstream.Upstream | None = None
    # The consent flow's redirect URL: yours (checked before anything starts), or in emulator
    # mode the app's own choice, which upstream.emulator tells its emulator.
    redirect = (
        consent.redirect_url(settings, emulated=mode == "emulator")
        if settings.flow == "consent"
        else None
    )
    consent_url = str(settings.consent_url or upstream.BASIQ_CONSENT)
    if mode == "backend":
        if settings.backend_url is None or not settings.client_id:
            raise SettingsError(
                "Backend mode needs your server's address and this app's id there: set "
                "BLINK_DESKTOP_BACKEND_URL and BLINK_DESKTOP_CLIENT_ID."
            )
        backend = BackendClient(str(settings.backend_url), settings.client_id)
        provider = source = backend
        # The client token goes straight to Basiq to follow the job, as Blink itself does.
        client = BasiqClient(str(settings.api_url or BASIQ_API), version=settings.basiq_version)
        blink_url = str(settings.blink_url or upstream.BASIQ_BLINK)
        outbox = Outbox(store, backend.report_connection)
        outbox.start()
    else:
        if mode == "emulator":
            logging.getLogger(EMULATOR_LOGGER).addFilter(EMULATOR_REQUESTS)
            # Keep the emulator's state beside ours, so stored connections stay valid next time.
            chosen = upstream.emulator(settings, settings.data_dir / EMULATOR_STATE)
        else:
            api_key = key()
            if not api_key:
                raise SettingsError(
                    "Direct mode needs a Basiq API key: set BLINK_DESKTOP_API_KEY, or store it "
                    "with `blink-desktop login`."
                )
            chosen = upstream.basiq(settings, api_key)
        logs.redactor.add_secret(chosen.api_key)  # the emulator's key too: no key is logged
        client = BasiqClient(chosen.api_url, version=settings.basiq_version)
        provider = source = KeyHolder(client, chosen.api_key, known_users=store.basiq_user)
        blink_url = chosen.blink_url
        consent_url = chosen.consent_url
    service = ConnectService(
        provider,
        client,
        store,
        blink_url=blink_url,
        blink_origin=origin(blink_url),
        transport=settings.transport,
        identifier=settings.user,
        emulated=chosen is not None and chosen.emulated,
        outbox=outbox,
    )
    if redirect is not None:
        service.consent = consent.ConsentFlow(
            service, store, client, consent_url=consent_url, redirect_url=redirect
        )
    manager = ConnectionManager(store, source)
    return App(
        service=service, store=store, mode=mode, upstream=chosen, outbox=outbox, manager=manager
    )


def _public(url: str) -> str:
    """A URL as a log may show it: no user name, password, query or fragment."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    host = f"[{host}]" if ":" in host else host
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"

"""The desktop app: wire settings to the emulator or Basiq, the store, the bridge and a window."""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from blink_desktop import keychain, logs, paths
from blink_desktop.api_client import BASIQ_API, BasiqClient
from blink_desktop.bridge import Bridge
from blink_desktop.emulator import Emulator
from blink_desktop.errors import SettingsError
from blink_desktop.outbox import Outbox
from blink_desktop.providers import BackendProvider, DirectProvider, TokenProvider
from blink_desktop.services import ConnectService
from blink_desktop.settings import Settings
from blink_desktop.store import Store

log = logging.getLogger(__name__)

BASIQ_BLINK = "https://js.basiq.io/index.html"
DATABASE = "blink-desktop.sqlite"
Mode = Literal["emulator", "direct", "backend"]
EMULATOR_STATE = "emulator.sqlite"


def database_path(settings: Settings) -> Path:
    return settings.data_dir / DATABASE


@dataclass
class App:
    service: ConnectService
    store: Store
    mode: Mode
    emulator: Emulator | None = None
    outbox: Outbox | None = None

    def close(self) -> None:
        if self.outbox is not None:
            self.outbox.stop()
        if self.emulator is not None:
            self.emulator.stop()
        self.store.close()


def choose_mode(settings: Settings) -> Mode:
    """backend when your server is set, direct when there is a key, else the emulator."""
    if settings.provider != "auto":
        return settings.provider
    if settings.backend_url is not None:
        return "backend"
    if settings.api_key is not None or keychain.api_key():
        return "direct"
    return "emulator"


def build(settings: Settings) -> App:
    """Everything but the window; tests and the command line use this too."""
    mode = choose_mode(settings)
    store = Store(database_path(settings))
    try:
        return _build(settings, mode, store)
    except BaseException:
        store.close()
        raise


def _build(settings: Settings, mode: Mode, store: Store) -> App:
    emulator: Emulator | None = None
    outbox: Outbox | None = None
    provider: TokenProvider
    if mode == "emulator":
        if settings.api_url is not None:
            raise SettingsError(
                "BLINK_DESKTOP_API_URL is set but there is no API key: set BLINK_DESKTOP_API_KEY "
                "(or run `blink-desktop login`), or unset the URL to use the built-in emulator."
            )
        # Keep the emulator's state beside ours, so stored connections stay valid next time.
        emulator = Emulator(
            state_path=settings.data_dir / EMULATOR_STATE, job_speed=settings.emulator_job_speed
        ).start()
        client = BasiqClient(emulator.url, version=settings.basiq_version)
        provider = DirectProvider(client, emulator.api_key, known_users=store.basiq_user)
        blink_url = str(settings.blink_url or f"{emulator.url}/index.html")
    elif mode == "direct":
        key = settings.api_key.get_secret_value() if settings.api_key else keychain.api_key()
        if not key:
            raise SettingsError(
                "Direct mode needs a Basiq API key: set BLINK_DESKTOP_API_KEY, or store it with "
                "`blink-desktop login`."
            )
        logs.redactor.add_secret(key)
        client = BasiqClient(str(settings.api_url or BASIQ_API), version=settings.basiq_version)
        provider = DirectProvider(client, key, known_users=store.basiq_user)
        blink_url = str(settings.blink_url or BASIQ_BLINK)
    else:
        if settings.backend_url is None or not settings.client_id:
            raise SettingsError(
                "Backend mode needs your server's address and this app's id there: set "
                "BLINK_DESKTOP_BACKEND_URL and BLINK_DESKTOP_CLIENT_ID."
            )
        backend = BackendProvider(str(settings.backend_url), settings.client_id)
        provider = backend
        # The client token goes straight to Basiq to follow the job, as Blink itself does.
        client = BasiqClient(str(settings.api_url or BASIQ_API), version=settings.basiq_version)
        blink_url = str(settings.blink_url or BASIQ_BLINK)
        outbox = Outbox(store, backend.report_connection)
        outbox.start()
    service = ConnectService(
        provider,
        client,
        store,
        blink_url=blink_url,
        blink_origin=_origin(blink_url),
        transport=settings.transport,
        identifier=settings.user,
        emulated=emulator is not None,
        outbox=outbox,
    )
    return App(service=service, store=store, mode=mode, emulator=emulator, outbox=outbox)


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def run(settings: Settings, *, debug: bool = False) -> int:
    """Open the window and block until it closes."""
    qt = sys.platform.startswith("linux")
    if settings.transport == "scheme" and not qt:
        raise SettingsError(
            "BLINK_DESKTOP_TRANSPORT=scheme needs the Qt window, which blink-desktop uses on "
            "Linux; use the default transport, iframe, on this system."
        )
    _prepare_qt()
    import webview

    app = build(settings)
    try:
        bridge = Bridge(app.service, webview.token)
        window = webview.create_window(
            "blink-desktop",
            url=str(paths.assets_dir() / "desktop.html"),
            js_api=bridge,
            width=1040,
            height=760,
            min_size=(360, 520),
            background_color="#F6F7FB",
        )
        if window is None:
            raise SettingsError("The window could not be created.")
        if settings.transport == "scheme":
            _intercept_scheme(window, app.service)
        elif qt:
            from blink_desktop import basiq_scheme

            basiq_scheme.guard_navigation()
        webview.start(
            gui="qt" if qt else None,
            debug=debug,
            icon=str(paths.assets_dir() / "icon.png"),  # the window's icon (GTK and Qt)
        )
    finally:
        app.close()
    return 0


def _prepare_qt() -> None:
    if sys.platform.startswith("linux"):
        os.environ.setdefault("PYWEBVIEW_GUI", "qt")
    # QtWebEngine refuses to start as root unless its sandbox is off.
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        os.environ.setdefault("QTWEBENGINE_DISABLE_SANDBOX", "1")


def _intercept_scheme(window: Any, service: ConnectService) -> None:
    """basiq://EVENT/JSON navigations go through the same validation and store as postMessage."""
    from blink_desktop import basiq_scheme

    def on_url(url: str) -> None:
        try:
            event, payload = basiq_scheme.parse(url)
            data: Any = (
                {"event": event} if payload is None else {"event": event, "payload": payload}
            )
        except ValueError as exc:
            data = url[:2000]
            log.warning("unreadable basiq:// navigation: %s", exc)
        outcome = service.receive("basiq://", data).to_json()
        threading.Thread(
            target=window.evaluate_js,
            args=(f"window.desktop && window.desktop.onSchemeOutcome({json.dumps(outcome)})",),
            daemon=True,
        ).start()

    basiq_scheme.install(window, on_url)

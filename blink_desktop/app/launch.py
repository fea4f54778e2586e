"""The app behind the window, started on a thread of its own while Qt starts on the main one.

Each stage is a `Pending` that bridge calls wait on, so the window asks for no more than it
needs at each moment:

1. `first_screen`: the settings (and logging), then the store. Enough for who you are and
   your stored connections: the window's first screen.
2. `app` and its `service`: the mode (the keyring may be asked), the upstream (the embedded
   emulator starts) and the connect service. Enough to connect. The keyring is asked on a
   thread of its own while this one imports the connect service and the Basiq client: it
   takes some 70 ms, most of them waiting on subprocesses (its macOS backend looks for its
   libraries with `ldconfig` even on Linux), so the two overlap.
3. Then, unwaited, the person's Basiq user and a client token, fetched ahead for the first
   connect (`ConnectService.prefetch`).

A stage that fails fails every later one with the same error, which the page shows, and which
`close()` leaves for the command line to report once the window has closed.
"""

from __future__ import annotations

import importlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from blink_desktop.app.starting import Pending

if TYPE_CHECKING:
    from blink_desktop.app.connect import ConnectService
    from blink_desktop.app.store import Store
    from blink_desktop.app.wiring import App
    from blink_desktop.settings import Settings

log = logging.getLogger(__name__)

CLOSE_TIMEOUT = 60.0  # seconds closing waits for a start still under way


@dataclass(frozen=True)
class FirstScreen:
    """Who is connecting and what is stored, before any upstream is there to ask."""

    settings: Settings
    store: Store

    @property
    def transport(self) -> str:
        return self.settings.transport

    def identifier(self) -> str | None:
        return self.settings.user or self.store.last_identifier()

    def basiq_user_id(self) -> str | None:
        identifier = self.identifier()
        return self.store.basiq_user(identifier) if identifier else None

    def connections(self) -> list[dict[str, Any]]:
        return [asdict(item) for item in self.store.connections()]  # as connect.py lists them


class Launch:
    def __init__(self, configure: Callable[[], Settings], *, check: Callable[[Settings], None]):
        """`configure` reads the settings; `check` raises a SettingsError for ones this window
        cannot honour."""
        self._configure = configure
        self._check = check
        self.first_screen: Pending[FirstScreen] = Pending()
        self.app: Pending[App] = Pending()
        self.service: Pending[ConnectService] = Pending()  # the app's, for the bridge
        self._thread = threading.Thread(target=self._run, name="start-up", daemon=True)
        self._started = 0.0

    def start(self) -> Launch:
        self._started = time.monotonic()
        self._thread.start()
        return self

    def _run(self) -> None:
        try:
            from blink_desktop import upstream
            from blink_desktop.app import wiring

            settings = self._configure()
            self._check(settings)
            self.first_screen.set(FirstScreen(settings, wiring.open_store(settings)))
            self._took("first screen")
            key = None
            if wiring.asks_for_key(settings):
                key = Pending.run("keyring", upstream.configured_key, settings).result
            # Meanwhile, what every mode builds on: the connect service, the Basiq client.
            for module in ("blink_desktop.app.connect", "blink_desktop.basiq.keyholder"):
                importlib.import_module(module)
            app = wiring.build(settings, self.first_screen.result().store, key=key)
        except BaseException as exc:  # the page shows it; close() raises it
            for stage in (self.first_screen, self.app, self.service):
                if not stage.done():
                    stage.fail(exc)
            return
        self.app.set(app)
        self.service.set(app.service)
        self._took("upstream and connect service")
        try:
            app.service.prefetch()
        except Exception:  # the window closed meanwhile; the first connect will ask instead
            log.debug("fetching a client token ahead failed", exc_info=True)
        self._took("a client token fetched ahead")

    def _took(self, stage: str) -> None:
        elapsed = time.monotonic() - self._started
        log.debug("start-up: %s ready %.3f s after Qt began", stage, elapsed)

    def close(self) -> None:
        """Stop what started; then raise what stopped the start, if anything did."""
        if not self._thread.is_alive() and not self.first_screen.done():
            return  # never started
        if not self.app.wait(CLOSE_TIMEOUT):
            log.warning("closing while blink-desktop is still starting")
            return
        error = self.app.error()
        if error is None:
            self.app.result().close()
            return
        if self.first_screen.error() is None:
            self.first_screen.result().store.close()
        raise error

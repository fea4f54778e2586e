"""Run the emulator: in a thread on port 0 for the app and tests, or in the foreground.

`Emulator` wires the pieces once: the state and `Auth` over it, all on one clock (the one given,
plus the time let pass); httpd's `Serving` to put it on a socket; then, with the address that
socket has (every link hangs off it), the webhooks, the events they deliver, `Rules`,
`Consents` and the lifecycle controls, the routes over them, and the middleware (CORS, body,
faults) and the access log in front. `start()` also starts the webhooks' thread.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType

from blink_desktop.emulator import DEFAULT_API_KEY
from blink_desktop.emulator.auth import Auth, TokenRateLimit
from blink_desktop.emulator.clock import Clock, ShiftedClock, system_clock
from blink_desktop.emulator.consent_ui import (
    DEFAULT_APP_NAME,
    ConsentUiSettings,
    checked_redirect_url,
)
from blink_desktop.emulator.consents import Consents
from blink_desktop.emulator.events import Events
from blink_desktop.emulator.faults import Fault, Faults
from blink_desktop.emulator.lifecycle import DAY, Lifecycle, restore_time
from blink_desktop.emulator.links import Links
from blink_desktop.emulator.middleware import Middleware
from blink_desktop.emulator.routes import build_app
from blink_desktop.emulator.rules import Rules
from blink_desktop.emulator.state import State
from blink_desktop.emulator.webhooks import Webhooks
from blink_desktop.httpd import Environ, Serving, StartResponse, WsgiApp, access_log

log = logging.getLogger("blink_desktop.emulator")


class Emulator:
    """The offline Basiq API and Blink page, on a real HTTP server.

    `clock` answers epoch seconds; pass a `FakeClock` to move tokens, jobs and webhook retries
    by hand. `self.clock` is the emulator's time: that clock plus what `pass_time` let pass.
    `redirect_url` is the application's, where the Consent UI sends the person back
    (as set in Basiq's dashboard); `app_name` is the name it shows them.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        api_key: str | None = None,
        state_path: Path | None = None,
        token_ttl: int = 3600,
        job_speed: float = 1.0,
        faults: list[Fault] | None = None,
        token_rate_limit: int = 1500,
        clock: Clock = system_clock,
        redirect_url: str | None = None,
        app_name: str | None = None,
    ) -> None:
        if job_speed <= 0:
            raise ValueError("job speed must be above 0")
        if token_ttl <= 0:
            raise ValueError("token lifetime must be above 0 seconds")
        self.consent_ui = ConsentUiSettings(
            app_name or DEFAULT_APP_NAME, checked_redirect_url(redirect_url)
        )
        self.api_key = api_key or DEFAULT_API_KEY
        self.clock = clock = ShiftedClock(clock)
        self.state = State(state_path, clock=clock)
        restore_time(self.state, clock)
        self.auth = Auth(self.state, clock=clock, api_key=self.api_key, token_ttl=token_ttl)
        self.faults = Faults()
        for fault in faults or []:
            self.faults.add(fault)
        try:
            self._serving = Serving(access_log(self._handle, log), host, port)
        except OSError:
            self.state.close()
            raise
        self.url = self._serving.url
        # Built once the socket is bound: every link in an answer hangs off `url`, the address
        # the emulator listens on, never off the Host or X-Forwarded-Host a request names.
        links = Links(self.url)
        # The lambda, not the bound method: whatever `rules.settle` is when the thread runs.
        self.webhooks = Webhooks(
            self.state,
            clock=clock,
            links=links,
            speed=job_speed,
            settle=lambda: self.rules.settle(),
        )
        self.events = Events(self.state, clock=clock, links=links, publish=self.webhooks.publish)
        self.rules = Rules(self.state, clock=clock, events=self.events, job_speed=job_speed)
        self.consents = Consents(self.state, clock=clock, rules=self.rules, events=self.events)
        self.lifecycle = Lifecycle(
            self.state, clock=clock, rules=self.rules, auth=self.auth, kick=self.webhooks.kick
        )
        routes = build_app(
            self.auth,
            self.rules,
            clock=clock,
            links=links,
            consented=self.consents,
            hooks=self.webhooks,
            consent_settings=self.consent_ui,
            lifecycle=self.lifecycle,
            rate_limit=TokenRateLimit(token_rate_limit, clock=clock),
        )
        self._app: WsgiApp = Middleware(routes, self.faults)

    def _handle(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        return self._app(environ, start_response)

    @property
    def redirect_url(self) -> str | None:
        """Where the Consent UI's Done and leaving send the person; None shows the result."""
        return self.consent_ui.redirect_url

    @redirect_url.setter
    def redirect_url(self, url: str | None) -> None:
        self.consent_ui.redirect_url = checked_redirect_url(url)

    def start(self) -> Emulator:
        self._serving.start(name="emulator")
        self.webhooks.start()
        return self

    def serve_forever(self) -> None:
        """Serve in this thread until interrupted; the caller handles KeyboardInterrupt."""
        self.webhooks.start()
        try:
            self._serving.serve_forever()
        finally:
            self.webhooks.stop()
            self.state.close()

    def stop(self) -> None:
        self.webhooks.stop()
        self._serving.stop()
        self.state.close()

    def expire_tokens(self) -> None:
        """Every token issued so far now answers 403 "Token has expired"."""
        self.lifecycle.expire_tokens()

    def break_connection(self, connection_id: str) -> None:
        """As if its password changed at the bank: its next refresh fails `invalid-credentials`
        and it becomes `invalid`, until its credentials are updated (Blink's update mode, or
        the Consent UI with its `connectionId`). An unknown id raises LookupError."""
        self.lifecycle.break_connection(connection_id)

    def pass_time(self, days: float = 0.0, *, seconds: float = 0.0) -> float:
        """Move the emulator's clock on, whatever clock it was given; answer its new time.

        Each bank's data grows day by day, so a refresh afterwards brings new transactions;
        tokens older than their lifetime expire, and jobs, consents and webhook retries move on.
        Kept in the state file across restarts. At most 3650 days at once (ValueError)."""
        if not (days >= 0 and seconds >= 0):
            raise ValueError("time passes forward: days and seconds must be 0 or more")
        return self.lifecycle.pass_time(days * DAY + seconds)

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

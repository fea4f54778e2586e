"""Run the emulator: in a thread on port 0 for the app and tests, or in the foreground."""

from __future__ import annotations

import threading
from pathlib import Path
from types import TracebackType

from blink_desktop.emulator.api import Middleware, TokenRateLimit, build_app
from blink_desktop.emulator.faults import Fault, Faults
from blink_desktop.emulator.sandbox import DEFAULT_API_KEY, Sandbox
from blink_desktop.emulator.state import State
from blink_desktop.wsgi import make, url_of


class Emulator:
    """The offline Basiq API and Blink page, on a real HTTP server."""

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
    ) -> None:
        if job_speed <= 0:
            raise ValueError("job speed must be above 0")
        if token_ttl <= 0:
            raise ValueError("token lifetime must be above 0 seconds")
        self.api_key = api_key or DEFAULT_API_KEY
        self.state = State(state_path)
        self.sandbox = Sandbox(
            self.state, api_key=self.api_key, token_ttl=token_ttl, job_speed=job_speed
        )
        self.faults = Faults()
        for fault in faults or []:
            self.faults.add(fault)
        app = Middleware(build_app(self.sandbox, TokenRateLimit(token_rate_limit)), self.faults)
        try:
            self._server = make(host, port, app)
        except OSError:
            self.state.close()
            raise
        self._thread: threading.Thread | None = None
        self.url = url_of(self._server)

    def start(self) -> Emulator:
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name="emulator",
            daemon=True,
        )
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in this thread until interrupted; the caller handles KeyboardInterrupt."""
        try:
            self._server.serve_forever(poll_interval=0.2)
        finally:
            self._close()

    def stop(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=10)
            self._thread = None
        self._close()

    def _close(self) -> None:
        self._server.server_close()
        self.state.close()

    def expire_tokens(self) -> None:
        """Every token issued so far now answers 403 "Token has expired"."""
        self.sandbox.expire_tokens()

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

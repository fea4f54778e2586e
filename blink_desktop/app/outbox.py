"""Deliver connection reports to your server, retrying with backoff until it acknowledges them.

The reports live in the store's outbox table, so a report made while the server was down
survives a restart and goes out when the server is back.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable

from blink_desktop.app.store import Store
from blink_desktop.errors import BlinkError

log = logging.getLogger(__name__)

FIRST_DELAY = 1.0
MAX_DELAY = 300.0


class Outbox:
    def __init__(
        self,
        store: Store,
        deliver: Callable[[str, str], None],
        *,
        clock: Callable[[], float] = time.time,
        first_delay: float = FIRST_DELAY,
        max_delay: float = MAX_DELAY,
    ) -> None:
        self._store = store
        self._deliver = deliver  # (basiq user id, connection id); raises BlinkError on failure
        self._clock = clock
        self._first_delay = first_delay
        self._max_delay = max_delay
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="outbox", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def wake(self) -> None:
        self._wake.set()

    def run_once(self) -> int:
        """Try every report that is due; return how many the server acknowledged."""
        delivered = 0
        for report in self._store.due_reports(self._clock()):
            try:
                self._deliver(report.basiq_user_id, report.connection_id)
            except BlinkError as exc:
                delay = min(self._max_delay, self._first_delay * 2**report.attempts)
                delay *= random.uniform(0.8, 1.2)  # noqa: S311 - jitter, not security
                with self._store.writing("the failed report") as tx:
                    tx.report_failed(report.id, str(exc), self._clock() + delay)
                log.warning(
                    "report of connection %s failed; retrying in %.0f s: %s",
                    report.connection_id,
                    delay,
                    exc,
                )
            else:
                with self._store.writing("the delivered report") as tx:
                    tx.report_delivered(report.id)
                delivered += 1
                log.info("reported connection %s to your server", report.connection_id)
        return delivered

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                self.run_once()
            except BlinkError as exc:  # the store itself failed; try again later
                log.error("outbox: %s", exc)
            upcoming = self._store.next_report_at()
            wait = self._max_delay if upcoming is None else max(0.05, upcoming - self._clock())
            self._wake.wait(timeout=min(wait, self._max_delay))
            self._wake.clear()

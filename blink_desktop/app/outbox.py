"""Deliver connection reports to your server, retrying with backoff until it acknowledges them.

The reports live in the store's outbox table, so a report made while the server was down
survives a restart and goes out when the server is back.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from blink_desktop.app.store import Store, Writer
from blink_desktop.errors import BlinkError, UserUnknown

log = logging.getLogger(__name__)

T = TypeVar("T")
FIRST_DELAY = 1.0
MAX_DELAY = 300.0
UNKNOWN_USER_DELAY = 86400.0  # a report for a person your server does not know


class Outbox:
    """Reports waiting in the store, delivered by one background thread.

    `stop()` is prompt whatever is pending: the thread stops between reports, and once
    `stop()` returns it never touches the store again (a delivery still in flight is retried
    on the next start), so the app can close the store straight after.
    """

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
        self._stopped = False
        self._store_lock = threading.Lock()  # held for each store access; stop() takes it too
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="outbox", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 2.0) -> None:
        with self._store_lock:
            self._stopped = True
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=timeout)

    def wake(self) -> None:
        self._wake.set()

    def run_once(self) -> int:
        """Try every report that is due; return how many the server acknowledged."""
        delivered = 0
        due = self._with_store(lambda: self._store.due_reports(self._clock()))
        for report in due or []:
            if self._stopped:
                break
            try:
                self._deliver(report.basiq_user_id, report.connection_id)
            except BlinkError as exc:
                if isinstance(exc, UserUnknown):
                    # Only your server can change that answer (a database restored): a day,
                    # not every few minutes. The report stays, with the reason.
                    delay = UNKNOWN_USER_DELAY
                else:
                    delay = min(self._max_delay, self._first_delay * 2**report.attempts)
                    delay *= random.uniform(0.8, 1.2)  # noqa: S311 - jitter, not security
                with self._writing() as tx:
                    if tx is not None:
                        tx.report_failed(report.id, str(exc), self._clock() + delay)
                log.warning(
                    "report of connection %s failed; retrying in %.0f s: %s",
                    report.connection_id,
                    delay,
                    exc,
                )
            else:
                with self._writing() as tx:
                    if tx is not None:
                        tx.report_delivered(report.id)
                        delivered += 1
                log.info("reported connection %s to your server", report.connection_id)
        return delivered

    def _with_store(self, read: Callable[[], T]) -> T | None:
        with self._store_lock:
            return None if self._stopped else read()

    @contextmanager
    def _writing(self) -> Iterator[Writer | None]:
        """A transaction, or None once stopped: the caller then leaves the report pending."""
        with self._store_lock:
            if self._stopped:
                yield None
                return
            with self._store.writing("the outbox") as tx:
                yield tx

    def _run(self) -> None:
        while not self._stopped:
            try:
                self.run_once()
                upcoming = self._with_store(self._store.next_report_at)
            except BlinkError as exc:  # the store itself failed; try again later
                log.error("outbox: %s", exc)
                upcoming = None
            wait = self._max_delay if upcoming is None else max(0.05, upcoming - self._clock())
            self._wake.wait(timeout=min(wait, self._max_delay))
            self._wake.clear()

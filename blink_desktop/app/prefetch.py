"""Blink's Basiq user and client token, fetched before the person clicks "Connect a bank".

A CLIENT_ACCESS token lives as long as Basiq says when it issues it (an hour at Basiq). One
fetched ahead is handed out for a connect only during the first half of that life, so Blink
always has at least the other half; then it is replaced, in the background or when next asked,
and never handed out again. Each ticket serves one connect. Time is read on every clock given
(the wall clock and the monotonic one), and whichever has moved more counts: a computer that
slept (its monotonic clock stood still) or a wall clock set back cannot make a token look young.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from blink_desktop.errors import BlinkError

log = logging.getLogger(__name__)

FRESH_SHARE = 0.5  # of a token's life: the part in which it may be handed out for a connect
MARGIN_S = 2.0  # a ticket this close to the end of that part counts as past it
SYSTEM_CLOCKS: tuple[Callable[[], float], ...] = (time.time, time.monotonic)


@dataclass(frozen=True)
class Ticket:
    """A Basiq user and a client token for one connect, and when the token was asked for."""

    identifier: str
    basiq_user_id: str
    token: str
    lifetime: float  # seconds, as Basiq said when it issued the token
    issued: tuple[float, ...]  # each clock's reading just before the token was asked for
    id: str = field(default_factory=lambda: uuid.uuid4().hex)

    def fresh_for(self, now: Sequence[float]) -> float:
        """Seconds it may still be handed out for (0 or less: never again)."""
        elapsed = max(later - then for later, then in zip(now, self.issued, strict=True))
        return self.lifetime * FRESH_SHARE - elapsed - MARGIN_S


class Tickets:
    """One ticket made ahead for the next connect, renewed in the background before it is due.

    `issue(identifier, issued)` asks Basiq (or your server) for a new one; it may take a while
    and may raise. Tickets handed to the page stay claimable by id while they are fresh.
    """

    def __init__(
        self,
        issue: Callable[[str, tuple[float, ...]], Ticket],
        clocks: Sequence[Callable[[], float]] = SYSTEM_CLOCKS,
    ) -> None:
        self._issue = issue
        self._clocks = tuple(clocks)
        self._lock = threading.Lock()  # guards the fields below
        self._fetching = threading.Lock()  # one fetch at a time; others wait and share it
        self._ahead: Ticket | None = None
        self._handed: dict[str, Ticket] = {}
        self._timer: threading.Timer | None = None
        self._closed = False

    def now(self) -> tuple[float, ...]:
        return tuple(clock() for clock in self._clocks)

    def prefetch(self, identifier: str) -> Ticket:
        """The ticket made ahead for the next connect: the current one while fresh, else new."""
        with self._fetching:
            ticket = self._fresh_ahead(identifier)
            if ticket is None:
                ticket = self._issue(identifier, self.now())
                with self._lock:
                    self._ahead = ticket
                self._schedule(ticket)
            return ticket

    def ahead(self, identifier: str) -> Ticket:
        """`prefetch`, handed out: claimable by its id with `take` while it is fresh."""
        ticket = self.prefetch(identifier)
        with self._lock:
            self._handed[ticket.id] = ticket
        return ticket

    def take(self, identifier: str, wanted: str | None = None) -> Ticket:
        """A ticket for a connect starting now, used up: `wanted` if it is still fresh, else
        the one made ahead if fresh, else a new one."""
        with self._lock:
            ticket = self._handed.pop(wanted, None) if wanted else None
            if ticket is not None and self._usable(ticket, identifier):
                self._use(ticket)
                return ticket
        with self._fetching:
            ticket = self._fresh_ahead(identifier)
            if ticket is None:
                return self._issue(identifier, self.now())
            with self._lock:
                self._use(ticket)
            return ticket

    def forget(self) -> None:
        """Drop the ticket made ahead and those handed out: the next connect asks anew."""
        with self._lock:
            self._ahead = None
            self._handed.clear()
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None

    def close(self) -> None:
        with self._lock:
            self._closed = True
            if self._timer is not None:
                self._timer.cancel()

    def _usable(self, ticket: Ticket, identifier: str) -> bool:
        return ticket.identifier == identifier and ticket.fresh_for(self.now()) > 0

    def _fresh_ahead(self, identifier: str) -> Ticket | None:
        with self._lock:
            ticket = self._ahead
            return ticket if ticket is not None and self._usable(ticket, identifier) else None

    def _use(self, ticket: Ticket) -> None:
        """Called with the lock held: the ticket serves this connect and nothing else."""
        self._handed.pop(ticket.id, None)
        if self._ahead is ticket:
            self._ahead = None
        now = self.now()
        self._handed = {key: t for key, t in self._handed.items() if t.fresh_for(now) > 0}

    def _schedule(self, ticket: Ticket) -> None:
        """Renew `ticket` when it is due, unless it was used or replaced by then."""
        with self._lock:
            if self._closed:
                return
            if self._timer is not None:
                self._timer.cancel()
            delay = max(ticket.fresh_for(self.now()), 1.0)
            self._timer = threading.Timer(delay, self._renew, args=(ticket,))
            self._timer.daemon = True
            self._timer.start()

    def _renew(self, due: Ticket) -> None:
        with self._lock:
            if self._closed or self._ahead is not due:
                return
        try:
            self.prefetch(due.identifier)
        except BlinkError as exc:
            log.info("could not renew the client token fetched ahead; next connect asks: %s", exc)
        except Exception:  # a timer's thread has nobody to raise to (the app may be closing)
            log.debug("renewing the client token fetched ahead failed", exc_info=True)

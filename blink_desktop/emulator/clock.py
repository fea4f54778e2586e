"""The emulator's one clock: epoch seconds, injected from `Emulator(clock=…)` down to the state.

Tokens, users, connections, jobs and the /token rate limit all read the same clock, so a test
or an integrator holding a `FakeClock` moves a token past its lifetime or a job through its
steps with `clock.advance(seconds)` instead of sleeping. `Emulator` reads whichever clock it is
given through a `ShiftedClock`, so time can also be let pass on a running emulator
(`Emulator.pass_time`), the system's clock too.
"""

from __future__ import annotations

import math
import threading
import time
from typing import Protocol


class Clock(Protocol):
    """Anything called with no arguments that answers the time in epoch seconds."""

    def __call__(self) -> float: ...


system_clock: Clock = time.time


class FakeClock:
    """A clock that stands still until told to move; safe to read from the server's threads."""

    def __init__(self, start: float | None = None) -> None:
        # A whole second by default, so `iat + ttl` in tokens lines up with the test's arithmetic.
        self._now = float(int(time.time()) if start is None else start)
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> float:
        """Move forward by `seconds` and answer the new time; time never runs backwards."""
        if seconds < 0:
            raise ValueError("a clock cannot go back in time")
        with self._lock:
            self._now += seconds
            return self._now

    def __repr__(self) -> str:
        return f"FakeClock({self():.3f})"


class ShiftedClock:
    """The emulator's clock: another clock, plus the time let pass on purpose.

    `Emulator.pass_time` moves it forward on any clock, the system's too, so an integrator can
    see days go by (new transactions at the banks, tokens expiring) without waiting for them.
    """

    def __init__(self, base: Clock, passed: float = 0.0) -> None:
        self._base = base
        self._passed = passed
        self._lock = threading.Lock()

    def __call__(self) -> float:
        return self._base() + self._passed

    @property
    def passed(self) -> float:
        """Seconds let pass so far."""
        return self._passed

    def pass_time(self, seconds: float) -> float:
        """Move forward by `seconds` and answer the new time; time never runs backwards."""
        if not math.isfinite(seconds) or seconds < 0:
            raise ValueError("time passes forward, by a finite number of seconds")
        with self._lock:
            self._passed += seconds
        return self()

    def __repr__(self) -> str:
        return f"ShiftedClock({self._base!r} + {self._passed:g} s)"

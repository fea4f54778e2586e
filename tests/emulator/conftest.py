"""Fixtures for the emulator's tests: an emulator on a FakeClock, and moving that clock.

The real-time `emulator` and `api` fixtures (FAST job speed) come from tests/conftest.py; the
ones here run at Basiq's own job speed on a clock that moves only when a test says so.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import pytest

from blink_desktop.emulator import Emulator, FakeClock
from tests.conftest import Api

T = TypeVar("T")


def claims_as_blink_reads_them(token: str) -> dict[str, Any]:
    # Blink decodes the payload with atob(): standard base64, padding optional.
    part = token.split(".")[1]
    return dict(json.loads(base64.b64decode(part + "=" * (-len(part) % 4), validate=True)))


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def clocked(clock: FakeClock) -> Iterator[Emulator]:
    """An emulator whose tokens and jobs move only with `clock.advance()`."""
    with Emulator(clock=clock) as running:
        yield running


@pytest.fixture
def capi(clocked: Emulator) -> Api:
    return Api(clocked)


def advance_until(
    clock: FakeClock, check: Callable[[], T | None], *, step: float = 0.05, within: float = 300.0
) -> T:
    """Move the clock `step` seconds at a time until check() answers; fail after `within` s."""
    moved = 0.0
    while True:
        result = check()
        if result:
            return result
        if moved >= within:
            raise AssertionError(f"condition not met within {within} s of emulated time: {check}")
        clock.advance(step)
        moved += step

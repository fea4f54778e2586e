"""clock.py: the FakeClock, and one clock reaching tokens, state and jobs from Emulator(clock=)."""

from __future__ import annotations

import threading
import time

import pytest

from blink_desktop.emulator import Emulator, FakeClock
from blink_desktop.emulator.clock import ShiftedClock
from tests.conftest import Api
from tests.emulator.conftest import claims_as_blink_reads_them


def test_a_fake_clock_stands_still_until_advanced() -> None:
    clock = FakeClock(100.0)
    assert clock() == clock() == 100.0
    assert clock.advance(2.5) == 102.5
    assert clock() == 102.5


def test_a_fake_clock_starts_on_a_whole_second_near_now_by_default() -> None:
    before = time.time()
    now = FakeClock()()
    assert now == int(now)
    assert before - 1 <= now <= time.time()


def test_a_fake_clock_never_goes_back() -> None:
    clock = FakeClock(100.0)
    with pytest.raises(ValueError, match="back in time"):
        clock.advance(-1)
    assert clock() == 100.0


def test_a_fake_clock_adds_up_advances_from_many_threads() -> None:
    clock = FakeClock(0.0)
    threads = [
        threading.Thread(target=lambda: [clock.advance(1) for _ in range(1000)]) for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert clock() == 4000.0


def test_one_clock_dates_tokens_users_connections_and_jobs() -> None:
    clock = FakeClock(1_600_000_000)  # 2020-09-13T12:26:40Z
    with Emulator(clock=clock) as emulator:
        api = Api(emulator)
        token = api.token()
        assert claims_as_blink_reads_them(token)["iat"] == 1_600_000_000
        user = api.user()
        assert emulator.state.user(user)["created"] == 1_600_000_000  # type: ignore[index]
        clock.advance(60)
        job_id = api.connect(user).json()["id"]
        job = api.job(job_id)
        assert job["created"] == job["updated"] == "2020-09-13T12:27:40Z"
        connection = job["links"]["source"].rsplit("/", 1)[1]
        shown = api.call("GET", f"/users/{user}/connections/{connection}", api.token()).json()
        assert shown["createdDate"] == "2020-09-13T12:27:40Z"
        assert shown["lastUsed"] is None


def test_a_shifted_clock_is_its_clock_plus_the_time_let_pass() -> None:
    base = FakeClock(100.0)
    clock = ShiftedClock(base)
    assert (clock(), clock.passed) == (100.0, 0.0)
    assert clock.pass_time(50) == 150.0
    base.advance(1)
    assert (clock(), clock.passed) == (151.0, 50.0)
    for wrong in (-1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError):
            clock.pass_time(wrong)
    assert clock() == 151.0

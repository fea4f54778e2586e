"""The lifecycle controls: what a real bank does rarely, provoked on purpose.

- Break a connection, as if its password changed at the bank: its next refresh fails
  `invalid-credentials` and it becomes `invalid`, until its credentials are updated (Blink's
  update mode, or the Consent UI with its `connectionId`).
- Let time pass on the emulator's clock: each bank's data grows day by day (bankdata.py), so
  a refresh brings new transactions; tokens, jobs, consents and webhook retries move on too.
- Expire every token issued so far.

`Emulator` offers them in Python; controls.py over HTTP, to loopback callers only.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from blink_desktop.emulator.auth import Auth
from blink_desktop.emulator.clock import ShiftedClock
from blink_desktop.emulator.rules import Rules
from blink_desktop.emulator.state import Row, State
from blink_desktop.emulator.views import iso

DAY = 86400.0
MAX_DAYS = 3650  # at once: a bank's data is built day by day, so ten years is plenty
TIME_PASSED = "time_passed"  # the state's meta key: seconds let pass, kept across restarts


class UnknownConnection(LookupError):
    """No connection has this id."""


def restore_time(state: State, clock: ShiftedClock) -> None:
    """Carry on from the time let pass before a restart (with `--state`)."""
    clock.pass_time(float(state.meta(TIME_PASSED) or 0.0))


class Lifecycle:
    def __init__(
        self,
        state: State,
        *,
        clock: ShiftedClock,
        rules: Rules,
        auth: Auth,
        kick: Callable[[], None] = lambda: None,
    ) -> None:
        self.state = state
        self.clock = clock
        self.rules = rules
        self.auth = auth
        self._kick = kick

    def break_connection(self, connection_id: str) -> Row:
        """Its next refresh fails `invalid-credentials`; answer the connection as it stands."""
        self.connection(connection_id)
        self.state.update_connection(connection_id, broken=1)
        return self.connection(connection_id)

    def connection(self, connection_id: str) -> Row:
        row = self.state.connection(connection_id)
        if row is None:
            raise UnknownConnection(f"no connection has the id {connection_id!r}")
        return row

    def pass_time(self, seconds: float) -> float:
        """Move the emulator's clock on; answer its new time. Jobs due by then are settled
        (and their webhooks sent) at once."""
        if not 0 <= seconds <= MAX_DAYS * DAY:  # NaN too
            raise ValueError(f"time passes by 0 to {MAX_DAYS} days at once, not {seconds!r} s")
        now = self.clock.pass_time(seconds)
        self.state.set_meta(TIME_PASSED, repr(self.clock.passed))
        self.rules.settle()
        self._kick()
        return now

    def expire_tokens(self) -> None:
        self.auth.expire_all()

    def time(self) -> dict[str, Any]:
        """The emulator's time, and how much was let pass in all."""
        return {"now": iso(self.clock()), "passedSeconds": self.clock.passed}


def shown(row: Row) -> dict[str, Any]:
    """A connection as the controls answer it: its status, and whether it is broken."""
    return {
        "id": row["id"],
        "userId": row["user_id"],
        "institution": row["institution_id"],
        "status": row["status"],
        "broken": bool(row["broken"]),
    }

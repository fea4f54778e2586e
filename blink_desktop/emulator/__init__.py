"""An offline emulator of the Basiq API and of the Blink page.

runner.Emulator puts it on a socket. Inside: routes.py (bottle routes) behind middleware.py
(CORS, body, faults); inputs.py (headers, query and body, read so that no bytes raise);
auth.py (API key, tokens, who may call) over tokens.py (PyJWT); bodies.py (the models of
request bodies); rules.py (what users, connections and jobs do to state.py);
views.py (the JSON answers, linked through links.py); jobs.py (a job's steps as a function of
the clock); clock.py (the one injectable clock, and FakeClock); problems.py (Basiq's errors);
catalogue.py, bankdata.py, scenarios.py and filters.py (institutions, account data, the sandbox
users, Basiq's filter grammar). The lifecycle controls (break a connection, let time pass,
expire every token): lifecycle.py, served under /_emulator/ by controls.py, called from another
process by remote.py, and from the command line by command.py (`blink-desktop emulator-control`).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from blink_desktop.emulator.clock import Clock, FakeClock
    from blink_desktop.emulator.faults import Fault
    from blink_desktop.emulator.runner import Emulator

# Here rather than in auth.py so that `blink-desktop --help` can show it without importing
# the emulator (PyJWT and bottle cost a quarter of a second at start-up).
DEFAULT_API_KEY = (
    "ZW11bGF0b3ItYXBwOmVtdWxhdG9yLXNlY3JldA=="  # base64("emulator-app:emulator-secret")
)

_LAZY = {"Clock": "clock", "FakeClock": "clock", "Fault": "faults", "Emulator": "runner"}
__all__ = ["DEFAULT_API_KEY", "Clock", "Emulator", "FakeClock", "Fault"]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

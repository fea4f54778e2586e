"""An offline emulator of the Basiq API and of the Blink page.

runner.Emulator puts it on a socket. Inside: routes.py (bottle routes) behind middleware.py
(CORS, size limit, faults); auth.py (API key, tokens, who may call) over tokens.py (PyJWT);
bodies.py (request bodies); rules.py (what users, connections and jobs do to state.py);
views.py (the JSON answers, linked through links.py); jobs.py (a job's steps as a function of
the clock); clock.py (the one injectable clock, and FakeClock); problems.py (Basiq's errors);
catalogue.py, bankdata.py, scenarios.py and filters.py (institutions, account data, the sandbox
users, Basiq's filter grammar).
"""

from blink_desktop.emulator.auth import DEFAULT_API_KEY
from blink_desktop.emulator.clock import Clock, FakeClock
from blink_desktop.emulator.faults import Fault
from blink_desktop.emulator.runner import Emulator

__all__ = ["DEFAULT_API_KEY", "Clock", "Emulator", "FakeClock", "Fault"]

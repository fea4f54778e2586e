"""An offline emulator of the Basiq API and of the Blink page."""

from blink_desktop.emulator.faults import Fault
from blink_desktop.emulator.sandbox import DEFAULT_API_KEY
from blink_desktop.emulator.server import Emulator

__all__ = ["DEFAULT_API_KEY", "Emulator", "Fault"]

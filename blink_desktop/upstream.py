"""Which Basiq the app and the server talk to: Basiq itself with your API key, or an embedded
emulator. Both products choose here, so the rules (and their messages) are written once.

This is the one module outside `emulator/` that starts an emulator; it imports it only then.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from blink_desktop import logs
from blink_desktop.errors import SettingsError

if TYPE_CHECKING:
    from blink_desktop.settings import Settings

BASIQ_BLINK = "https://js.basiq.io/index.html"
BASIQ_CONSENT = "https://consent.basiq.io/home"
# Where the embedded emulator's Consent UI sends the person back when BLINK_DESKTOP_REDIRECT_URL
# is unset: a name that never resolves (RFC 2606), as the window catches it before it loads.
EMULATED_REDIRECT = "https://blink-desktop.invalid/consent/return"


class Simulator(Protocol):
    """An embedded emulator's lifecycle controls, for the window's Simulate menu (the app never
    imports emulator/; `Emulator` has these methods)."""

    def break_connection(self, connection_id: str) -> None: ...

    def pass_time(self, days: float = 0.0, *, seconds: float = 0.0) -> float: ...

    def expire_tokens(self) -> None: ...


@dataclass(frozen=True)
class Upstream:
    """The Basiq API, the key for it and the Blink page; `close()` stops an embedded emulator."""

    api_url: str
    api_key: str
    blink_url: str
    emulated: bool = False
    close: Callable[[], None] = field(default=lambda: None, repr=False, compare=False)
    simulator: Simulator | None = field(default=None, repr=False, compare=False)  # emulator only
    consent_url: str = BASIQ_CONSENT  # Basiq 3.0's Consent UI, for the consent flow


def configured_key(settings: Settings) -> str | None:
    """BLINK_DESKTOP_API_KEY, else the key `blink-desktop login` stored, else None."""
    if settings.api_key:
        return settings.api_key.get_secret_value()
    from blink_desktop import keychain  # the keyring costs a tenth of a second to import

    return keychain.api_key()


def basiq(settings: Settings, key: str, *, api_url: str | None = None) -> Upstream:
    """Basiq (or BLINK_DESKTOP_API_URL) with this key; the key is scrubbed from every log."""
    from blink_desktop.basiq.client import BASIQ_API

    logs.redactor.add_secret(key)
    return Upstream(
        api_url=api_url or str(settings.api_url or BASIQ_API),
        api_key=key,
        blink_url=str(settings.blink_url or BASIQ_BLINK),
        consent_url=str(settings.consent_url or BASIQ_CONSENT),
    )


def emulator(settings: Settings, state_path: Path) -> Upstream:
    """Start an embedded emulator whose state is kept in `state_path` across runs."""
    if settings.api_url is not None:
        raise SettingsError(
            "BLINK_DESKTOP_API_URL is set but there is no API key: set BLINK_DESKTOP_API_KEY "
            "(or run `blink-desktop login`), or unset the URL to use the built-in emulator."
        )
    from blink_desktop.emulator import Emulator

    running = Emulator(
        state_path=state_path,
        job_speed=settings.emulator_job_speed,
        redirect_url=emulated_redirect_url(settings),
    ).start()
    return Upstream(
        api_url=running.url,
        api_key=running.api_key,
        blink_url=str(settings.blink_url or f"{running.url}/index.html"),
        emulated=True,
        close=running.stop,
        simulator=running,
        consent_url=str(settings.consent_url or f"{running.url}/home"),
    )


def emulated_redirect_url(settings: Settings) -> str | None:
    """The embedded emulator's redirect URL: BLINK_DESKTOP_REDIRECT_URL, else in the consent
    flow the app's own choice, else none."""
    if settings.redirect_url is not None:
        return str(settings.redirect_url)
    return EMULATED_REDIRECT if settings.flow == "consent" else None


def key_or_emulator(
    settings: Settings, state_path: Path, *, api_url: str | None = None, emulate: bool = True
) -> Upstream:
    """Basiq when there is a key; otherwise the emulator, where allowed, else a SettingsError."""
    key = configured_key(settings)
    if key is not None:
        return basiq(settings, key, api_url=api_url)
    if emulate and api_url is None:
        return emulator(settings, state_path)
    raise SettingsError(
        "The server needs the Basiq API key: set BLINK_DESKTOP_API_KEY or run "
        "`blink-desktop login`."
    )

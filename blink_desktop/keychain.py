"""The Basiq API key in the operating system's keyring (`blink-desktop login` / `logout`)."""

from __future__ import annotations

import keyring
import keyring.errors

from blink_desktop.errors import SettingsError

SERVICE = "blink-desktop"
ACCOUNT = "basiq-api-key"
NO_KEYRING = (
    "No operating-system keyring is available here ({reason}). Set BLINK_DESKTOP_API_KEY "
    "instead, or install a keyring backend (for example the keyrings.alt package)."
)


def api_key() -> str | None:
    """The stored key, or None when there is none or no keyring to ask."""
    try:
        return keyring.get_password(SERVICE, ACCOUNT)
    except keyring.errors.KeyringError:
        return None


def store_api_key(key: str) -> None:
    key = key.strip()
    if not key:
        raise SettingsError("The API key is empty; paste the key from the Basiq dashboard.")
    try:
        keyring.set_password(SERVICE, ACCOUNT, key)
    except keyring.errors.KeyringError as exc:
        raise SettingsError(NO_KEYRING.format(reason=type(exc).__name__)) from None


def forget_api_key() -> bool:
    """Remove the stored key; False when there was none."""
    try:
        keyring.delete_password(SERVICE, ACCOUNT)
    except keyring.errors.PasswordDeleteError:
        return False
    except keyring.errors.KeyringError as exc:
        raise SettingsError(NO_KEYRING.format(reason=type(exc).__name__)) from None
    return True

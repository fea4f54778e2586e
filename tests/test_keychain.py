"""The API key in the operating system's keyring: `login`, `logout`, and no keyring at all."""

from __future__ import annotations

from collections.abc import Iterator

import keyring
import keyring.backend
import keyring.errors
import pytest

from blink_desktop import cli, keychain
from blink_desktop.app.wiring import choose_mode
from blink_desktop.settings import load_settings


@pytest.fixture(autouse=True)
def no_window(monkeypatch: pytest.MonkeyPatch) -> None:
    """A command that would open the app's window fails here instead of taking pytest down."""

    def opened(*args: object) -> int:
        raise AssertionError("the command opened the app's window")

    monkeypatch.setattr(cli, "_window", opened)


class MemoryKeyring(keyring.backend.KeyringBackend):
    priority = 1

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.items: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.items.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.items[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        if self.items.pop((service, username), None) is None:
            raise keyring.errors.PasswordDeleteError("not stored")


@pytest.fixture
def memory_keyring() -> Iterator[MemoryKeyring]:
    previous = keyring.get_keyring()
    ring = MemoryKeyring()
    keyring.set_keyring(ring)
    yield ring
    keyring.set_keyring(previous)


class _Stdin:
    def __init__(self, text: str) -> None:
        self._text = text

    def isatty(self) -> bool:
        return False

    def readline(self) -> str:
        return self._text


def test_login_and_logout_use_the_keyring(
    memory_keyring: MemoryKeyring,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr("sys.stdin", _Stdin("s3cret-key\n"))
    assert cli.main(["login"]) == 0
    assert keychain.api_key() == "s3cret-key"
    assert memory_keyring.items == {(keychain.SERVICE, keychain.ACCOUNT): "s3cret-key"}
    out = capsys.readouterr().out
    assert "s3cret-key" not in out
    assert choose_mode(load_settings()) == "direct"
    assert cli.main(["logout"]) == 0
    assert keychain.api_key() is None
    assert cli.main(["logout"]) == 0
    assert "No API key was stored" in capsys.readouterr().out


def test_login_without_a_keyring_explains_what_to_do(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from keyring.backends import fail

    previous = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())  # type: ignore[no-untyped-call]
    try:
        monkeypatch.setattr("sys.stdin", _Stdin("key\n"))
        assert cli.main(["login"]) == 2
        assert "BLINK_DESKTOP_API_KEY" in capsys.readouterr().err
        assert keychain.api_key() is None  # no keyring to ask is no key, not a crash
    finally:
        keyring.set_keyring(previous)


def test_an_empty_key_is_refused(
    memory_keyring: MemoryKeyring,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr("sys.stdin", _Stdin("  \n"))
    assert cli.main(["login"]) == 2
    assert "The API key is empty" in capsys.readouterr().err
    assert memory_keyring.items == {}

"""The app behind the window starts in stages: the first screen never waits for the upstream,
and a start that fails says why, in the page and then on the command line."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import keyring
import pytest

from blink_desktop import keychain, upstream
from blink_desktop.app.bridge import Bridge
from blink_desktop.app.launch import Launch
from blink_desktop.app.starting import Pending
from blink_desktop.app.store import Store
from blink_desktop.app.wiring import DATABASE
from blink_desktop.emulator import Emulator
from blink_desktop.errors import SettingsError
from blink_desktop.settings import Settings, load_settings
from tests.app.conftest import TOKEN
from tests.app.test_store import record_success
from tests.test_keychain import MemoryKeyring


def no_check(settings: Settings) -> None:
    pass


def test_the_window_is_usable_before_the_emulator_answers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = Store(tmp_path / "data" / DATABASE)
    record_success(store)  # a connection stored by an earlier run
    [stored] = store.connections()
    store.close()
    release = threading.Event()
    starting = upstream.emulator

    def slow_emulator(settings: Settings, state_path: Path) -> upstream.Upstream:
        assert release.wait(30)
        return starting(settings, state_path)

    monkeypatch.setattr(upstream, "emulator", slow_emulator)
    monkeypatch.setenv("BLINK_DESKTOP_USER", "gavin@hooli.com")
    launch = Launch(load_settings, check=no_check).start()
    bridge = Bridge(launch.service, TOKEN, first_screen=launch.first_screen)
    try:
        booted = bridge.bootstrap(TOKEN)
        assert booted["ok"] is True, booted
        assert booted["identifier"] == "gavin@hooli.com"
        assert [row["id"] for row in booted["connections"]] == [stored.id]
        assert booted["mode"] is None  # not known until the upstream has started
        assert not launch.service.done()
    finally:
        release.set()
        assert launch.service.wait(30)
        prepared = bridge.prepare_connect(TOKEN)
        assert prepared["ok"] is True and prepared["mode"] == "emulator"
        assert bridge.bootstrap(TOKEN)["mode"] == "emulator"
        launch.close()


def test_a_start_that_fails_is_shown_by_the_page_then_raised_on_close(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("BLINK_DESKTOP_LOG_LEVEL", "LOUD")
    launch = Launch(load_settings, check=no_check).start()
    bridge = Bridge(launch.service, TOKEN, first_screen=launch.first_screen)
    booted = bridge.bootstrap(TOKEN)
    assert booted["ok"] is False
    assert "BLINK_DESKTOP_LOG_LEVEL" in booted["error"]
    assert booted["retry"] is False
    assert bridge.prepare_connect(TOKEN)["error"] == booted["error"]
    with pytest.raises(SettingsError, match="BLINK_DESKTOP_LOG_LEVEL"):
        launch.close()


def test_an_upstream_that_cannot_start_leaves_the_first_screen_and_says_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BLINK_DESKTOP_API_URL", "https://au-api.basiq.io")  # and no key
    monkeypatch.setenv("BLINK_DESKTOP_USER", "gavin@hooli.com")
    launch = Launch(load_settings, check=no_check).start()
    bridge = Bridge(launch.service, TOKEN, first_screen=launch.first_screen)
    assert launch.service.wait(30)
    assert bridge.connections(TOKEN)["ok"] is False
    prepared = bridge.prepare_connect(TOKEN)
    assert prepared["ok"] is False and "BLINK_DESKTOP_API_KEY" in prepared["error"]
    with pytest.raises(SettingsError, match="BLINK_DESKTOP_API_KEY"):
        launch.close()
    assert (tmp_path / "data" / DATABASE).exists()


class CountingKeyring(MemoryKeyring):
    """Remembers on which thread each question came."""

    def __init__(self) -> None:
        super().__init__()
        self.asked_on: list[str] = []

    def get_password(self, service: str, username: str) -> str | None:
        self.asked_on.append(threading.current_thread().name)
        return super().get_password(service, username)


@pytest.fixture
def counting_keyring() -> Iterator[CountingKeyring]:
    previous = keyring.get_keyring()
    ring = CountingKeyring()
    keyring.set_keyring(ring)
    yield ring
    keyring.set_keyring(previous)


def test_a_key_from_login_is_asked_once_on_its_own_thread_and_means_direct_mode(
    counting_keyring: CountingKeyring, emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    keychain.store_api_key(emulator.api_key)
    counting_keyring.asked_on.clear()
    monkeypatch.setenv("BLINK_DESKTOP_API_URL", emulator.url)  # Basiq, as far as the app knows
    monkeypatch.setenv("BLINK_DESKTOP_USER", "gavin@hooli.com")

    def no_emulator(*args: object, **kwargs: object) -> upstream.Upstream:
        raise AssertionError("started an emulator with a key in the keyring")

    monkeypatch.setattr(upstream, "emulator", no_emulator)
    launch = Launch(load_settings, check=no_check).start()
    try:
        app = launch.app.result(30)
        assert app.mode == "direct"
        assert app.upstream is not None and app.upstream.api_url.rstrip("/") == emulator.url
        assert counting_keyring.asked_on == ["keyring"]
    finally:
        launch.close()


def test_with_no_key_anywhere_the_keyring_is_asked_once_and_the_emulator_starts(
    counting_keyring: CountingKeyring,
) -> None:
    launch = Launch(load_settings, check=no_check).start()
    try:
        app = launch.app.result(30)
        assert app.mode == "emulator"
        assert counting_keyring.asked_on == ["keyring"]
    finally:
        launch.close()


def test_a_key_in_the_environment_or_a_server_leaves_the_keyring_unasked(
    counting_keyring: CountingKeyring, emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BLINK_DESKTOP_API_URL", emulator.url)
    monkeypatch.setenv("BLINK_DESKTOP_API_KEY", emulator.api_key)
    launch = Launch(load_settings, check=no_check).start()
    try:
        assert launch.app.result(30).mode == "direct"
    finally:
        launch.close()
    monkeypatch.delenv("BLINK_DESKTOP_API_KEY")
    monkeypatch.setenv("BLINK_DESKTOP_BACKEND_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("BLINK_DESKTOP_CLIENT_ID", "desk-1")
    launch = Launch(load_settings, check=no_check).start()
    try:
        assert launch.app.result(30).mode == "backend"
    finally:
        launch.close()
    assert counting_keyring.asked_on == []


def test_work_on_a_thread_of_its_own_gives_its_value_or_raises_its_error() -> None:
    names: list[str] = []

    def double(number: int) -> int:
        names.append(threading.current_thread().name)
        return number * 2

    assert Pending.run("doubling", double, 21).result(10) == 42
    assert names == ["doubling"]
    failed = Pending.run("parsing", int, "forty-two")
    with pytest.raises(ValueError, match="forty-two"):
        failed.result(10)
    assert isinstance(failed.error(), ValueError)

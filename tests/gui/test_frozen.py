"""The PyInstaller binary: it builds, stays within its size budget, and works like the source app.

The bundle (dist/blink-desktop/, from build.spec) is built here once per session when it is
missing or older than the sources, so `make test` and CI always test a fresh one. Every
command-line check runs the same command from the bundle and from source and compares them; the
window test runs the source app's own connect test against the binary.
"""

from __future__ import annotations

import heapq
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path

import pytest
import requests

from blink_desktop import __version__
from blink_desktop.app.store import Store
from tests.conftest import foreground
from tests.gui.test_desktop_app import SOURCE_APP, Desktop, connect_hooli_and_check_it_is_stored
from tests.gui.test_desktop_app import desktop as desktop  # noqa: F401  (the window fixture)
from tests.gui.test_desktop_consent import connect_hooli_through_the_consent_ui, consent_app

ROOT = Path(__file__).resolve().parents[2]
BUNDLE = ROOT / "dist" / "blink-desktop"
BINARY = BUNDLE / ("blink-desktop.exe" if sys.platform == "win32" else "blink-desktop")
# What the bundle is made of; a newer file here means the bundle is stale.
SOURCES = [ROOT / "build.spec", ROOT / "pyproject.toml", ROOT / "blink_desktop", ROOT / "assets"]
BUILD_TIMEOUT_S = 900
# The issue's goal is 300 MB, out of reach: PyQt6-WebEngine 6.11's libQt6WebEngineCore alone is
# 204 MB, and the Qt it links to, with its ICU data and Chromium's resources, another 90 MB. The
# trimmed bundle measures 389 MB (588 MB untrimmed); this limit catches it growing from there.
SIZE_LIMIT_MB = 400


def _newest(paths: list[Path]) -> float:
    stamps = [0.0]
    for path in paths:
        if path.is_file():
            stamps.append(path.stat().st_mtime)
        elif path.is_dir():
            files = (p for p in path.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
            stamps += [p.stat().st_mtime for p in files]
    return max(stamps)


@pytest.fixture(scope="session")
def bundle() -> Path:
    """dist/blink-desktop, rebuilt with this environment's PyInstaller when stale."""
    # PyInstaller recreates the folder on every build, so its own time stamp is the build's.
    if BINARY.is_file() and BUNDLE.stat().st_mtime >= _newest(SOURCES):
        return BUNDLE
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "PyInstaller", "build.spec", "--noconfirm"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=BUILD_TIMEOUT_S,
    )
    tail = "\n".join(result.stdout.splitlines()[-60:])
    assert result.returncode == 0, f"PyInstaller failed ({result.returncode}):\n{tail}"
    assert BINARY.is_file(), f"PyInstaller made no {BINARY}:\n{tail}"
    print(f"built {BUNDLE} in {time.monotonic() - started:.0f} s")
    return BUNDLE


def run(command: list[str], stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, input=stdin, capture_output=True, text=True, timeout=60)


def same(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    """Run a command from the bundle and from source; they must answer alike."""
    built, checked_out = run([str(BINARY), *args], stdin), run([*SOURCE_APP, *args], stdin)
    assert (built.returncode, built.stdout, built.stderr) == (
        checked_out.returncode,
        checked_out.stdout,
        checked_out.stderr,
    ), f"frozen:\n{built.stderr}\nsource:\n{checked_out.stderr}"
    return built


def frozen(*args: str) -> AbstractContextManager[tuple[subprocess.Popen[str], str]]:
    """A long-running frozen command and the URL it prints first."""
    return foreground(str(BINARY), *args)


def stop(process: subprocess.Popen[str]) -> str:
    """Ctrl-C, then the exit status must be 0 and stderr free of tracebacks; returns stderr."""
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=15)
    assert process.returncode == 0, err
    assert "Traceback" not in err
    return err


def test_the_bundle_builds_with_its_executable(bundle: Path) -> None:
    assert os.access(BINARY, os.X_OK)
    assert (bundle / "_internal" / "blink_desktop" / "assets" / "desktop.html").is_file()


def test_the_bundle_stays_within_its_size_budget(bundle: Path) -> None:
    sizes = {
        str(path.relative_to(bundle)): path.stat().st_size
        for path in bundle.rglob("*")
        if path.is_file() and not path.is_symlink()
    }
    total_mb = sum(sizes.values()) / 1e6
    largest = heapq.nlargest(15, sizes.items(), key=lambda item: item[1])
    listing = "\n".join(f"{size / 1e6:9.1f} MB  {name}" for name, size in largest)
    assert total_mb <= SIZE_LIMIT_MB, (
        f"the bundle is {total_mb:.0f} MB, over {SIZE_LIMIT_MB} MB; largest files:\n{listing}"
    )


def test_version_and_help_as_from_source(bundle: Path) -> None:
    assert same("--version").stdout.strip() == f"blink-desktop {__version__}"
    assert "emulator" in same("--help").stdout
    assert same("events", "--help").returncode == 0


def test_connections_and_events_on_an_empty_data_dir_as_from_source(bundle: Path) -> None:
    assert json.loads(same("connections", "--json").stdout) == []
    assert json.loads(same("events", "--json").stdout) == []
    assert same("connections").stdout == "No bank connections yet.\n"


def test_connections_and_events_on_a_filled_data_dir_as_from_source(
    bundle: Path, tmp_path: Path
) -> None:
    store = Store(tmp_path / "data" / "blink-desktop.sqlite")
    try:
        with store.writing("the test's rows") as tx:
            tx.upsert_connection("conn-1", "user-1", None)
            tx.set_institution("conn-1", "Hooli", None)
            tx.log_event(
                "http://127.0.0.1:1", '{"event":"handshake"}', event="handshake", accepted=True
            )
            tx.log_event("http://evil", "{}", event=None, accepted=False, reason="wrong origin")
    finally:
        store.close()
    [connection] = json.loads(same("connections", "--json").stdout)
    assert (connection["id"], connection["institution"]) == ("conn-1", "Hooli")
    assert same("connections", "--csv").stdout.startswith("id,")
    same("connections")
    events = json.loads(same("events", "--json").stdout)
    assert [bool(e["accepted"]) for e in events] == [True, False]
    same("events")


def test_emulator_from_the_bundle_serves_the_api_and_blink_and_stops_on_ctrl_c(
    bundle: Path,
) -> None:
    with frozen("emulator", "--port", "0", "--job-speed", "10") as (process, url):
        assert url.startswith("http://127.0.0.1:"), url
        institutions = requests.get(f"{url}/public/institutions", timeout=10)
        assert institutions.status_code == 200
        assert any(i["id"] == "AU00000" for i in institutions.json()["data"])
        # The emulated Blink page and the logos come from the bundle's own assets.
        assert "<html" in requests.get(f"{url}/index.html", timeout=10).text.lower()
        assert requests.get(f"{url}/logos/AU00000.svg", timeout=10).ok
        assert "API key" in stop(process)


def test_serve_from_the_bundle_answers_health_and_creates_users(
    bundle: Path, tmp_path: Path
) -> None:
    # serve's embedded emulator keeps its state in the data dir, which it does not create itself
    # (from source alike): give it one.
    (tmp_path / "data").mkdir()
    with frozen("serve", "--port", "0", "--client-id", "x") as (process, url):
        assert url.startswith("http://127.0.0.1:"), url
        health = requests.get(f"{url}/health", timeout=10)
        assert health.json() == {"success": True, "result": {"status": "ok"}}
        # With no key, serve runs the embedded emulator: the whole server path works frozen.
        user = requests.post(
            f"{url}/user", json={"email": "gavin@hooli.com", "client_id": "x"}, timeout=20
        )
        assert user.json()["result"]["email"] == "gavin@hooli.com", user.text
        stop(process)


def test_login_and_logout_as_from_source(bundle: Path) -> None:
    # No keyring service runs here: both say so, and how to set the key instead.
    assert "BLINK_DESKTOP_API_KEY" in same("logout").stderr
    assert "BLINK_DESKTOP_API_KEY" in same("login", stdin="a-key\n").stderr


def test_the_secret_service_keyring_backend_is_in_the_bundle(
    bundle: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Linux desktops keep the key in the Secret Service (keyring, secretstorage, cryptography)."""
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.SecretService.Keyring")
    monkeypatch.delenv("DBUS_SESSION_BUS_ADDRESS", raising=False)
    # With no D-Bus session it cannot connect, but only after all of it has been imported.
    result = run([str(BINARY), "logout"])
    assert "DBUS_SESSION_BUS_ADDRESS" in result.stderr, result.stderr
    assert "ModuleNotFoundError" not in result.stderr
    assert "ImportError" not in result.stderr


@pytest.mark.gui
def test_the_frozen_window_connects_a_bank_like_the_source_app(
    bundle: Path,
    desktop: Callable[..., Desktop],  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The app turns Chromium's sandbox off by itself when it runs as root; prove it does so frozen.
    monkeypatch.delenv("QTWEBENGINE_DISABLE_SANDBOX", raising=False)
    monkeypatch.delenv("QTWEBENGINE_CHROMIUM_FLAGS", raising=False)
    app = desktop(command=[str(BINARY)])
    # The same test as the source app's; its checks of what was stored go through app.cli, the
    # binary's own `connections --json` and `events --json`.
    connect_hooli_and_check_it_is_stored(app)
    # A windowed app has no console: the binary keeps its log in the log dir.
    log = tmp_path / "logs" / "blink-desktop.log"
    lines = log.read_text(encoding="utf-8").splitlines()
    assert any("connect started" in line for line in lines), lines[-20:]


@pytest.mark.gui
def test_the_frozen_window_connects_through_the_consent_ui(
    bundle: Path,
    desktop: Callable[..., Desktop],  # noqa: F811
) -> None:
    """BLINK_DESKTOP_FLOW=consent in the binary: the window goes to the emulated Consent UI, the
    redirect back is caught, and Hooli is stored with its method, as from source."""
    connect_hooli_through_the_consent_ui(consent_app(desktop, [str(BINARY)]))

"""The desktop app end to end: its own process and window, driven like a person over DevTools.

Each test starts `python -m blink_desktop` offscreen with its own data dir, clicks through
Blink inside the window, then checks what the app stored through its own command line.
The launch command is a parameter, so tests/gui/test_frozen.py runs the same flow against the
PyInstaller binary.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from blink_desktop.emulator import Emulator
from blink_desktop.httpd import Serving
from blink_desktop.server import build_server
from blink_desktop.settings import load_settings
from harness.cdp import CDP, Frame
from harness.ports import free_port
from tests.conftest import wait_for

pytestmark = pytest.mark.gui

IFRAME = "document.querySelector('#blink-host iframe')"
SOURCE_APP = (sys.executable, "-m", "blink_desktop")


@dataclass
class Desktop:
    process: subprocess.Popen[bytes]
    cdp: CDP
    env: dict[str, str]
    command: list[str] = field(default_factory=lambda: list(SOURCE_APP))

    def cli(self, *args: str) -> Any:
        """The same program's command line (source or frozen), on the same data dir."""
        result = subprocess.run(
            [*self.command, *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)

    def connect_click(self) -> Frame:
        """Press "Connect a bank" and wait for Blink's institution list inside the panel."""
        self.cdp.wait_for("!document.getElementById('connect').disabled", 20)
        self.cdp.click("#connect")
        self.cdp.wait_for(f"{IFRAME} && {IFRAME}.src.startsWith('http')", 20)
        origin = self.cdp.evaluate(f"new URL({IFRAME}.src).origin")
        frame = self.cdp.frame(origin + "/", timeout=20)
        frame.wait_for("document.getElementById('title').textContent === 'Select your bank'", 20)
        return frame

    def log_in(self, frame: Frame, login: str, password: str, institution: str = "AU00000") -> None:
        frame.click(f'[data-institution-id="{institution}"]')
        frame.wait_visible("#loginId")
        frame.type("#loginId", login)
        frame.type("#password", password)
        frame.click("#connect")
        frame.wait_visible("#screen-result", 20)

    def listed(self) -> list[dict[str, str]]:
        rows: list[dict[str, str]] = self.cdp.evaluate(
            "[...document.querySelectorAll('#connections .item')].map(li => "
            "({id: li.dataset.id, status: li.dataset.status, "
            "name: li.querySelector('.item-name').textContent}))"
        )
        return rows


@pytest.fixture
def desktop(tmp_path: Path) -> Iterator[Callable[..., Desktop]]:
    started: list[subprocess.Popen[bytes]] = []
    sockets: list[CDP] = []

    def start(command: Sequence[str] = SOURCE_APP, **settings: str | None) -> Desktop:
        port = free_port()
        env = {
            **os.environ,
            "QT_QPA_PLATFORM": "offscreen",
            "QTWEBENGINE_REMOTE_DEBUGGING": str(port),
            "BLINK_DESKTOP_DATA_DIR": str(tmp_path / "data"),
            "BLINK_DESKTOP_LOG_DIR": str(tmp_path / "logs"),
            "BLINK_DESKTOP_USER": "gavin@hooli.com",
            "BLINK_DESKTOP_EMULATOR_JOB_SPEED": "20",
        }
        for name, value in settings.items():
            if value is None:
                env.pop(f"BLINK_DESKTOP_{name.upper()}", None)
            else:
                env[f"BLINK_DESKTOP_{name.upper()}"] = value
        process = subprocess.Popen(
            list(command),
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        started.append(process)
        cdp = CDP.connect(
            port, timeout=60, url_prefix="http://127.0.0.1", alive=lambda: process.poll() is None
        )
        sockets.append(cdp)
        cdp.wait_for("document.readyState === 'complete'", 20)
        return Desktop(process, cdp, env, list(command))

    yield start
    for cdp in sockets:
        cdp.close()
    for process in started:
        if process.poll() is None:
            process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def test_connect_hooli_stores_the_connection_and_lists_it(desktop: Callable[..., Desktop]) -> None:
    connect_hooli_and_check_it_is_stored(desktop())


def connect_hooli_and_check_it_is_stored(app: Desktop) -> str:
    """The connect flow, shared with the frozen binary's test; returns the connection id."""
    app.cdp.wait_for("document.getElementById('mode-badge').hidden === false", 20)
    assert app.cdp.visible("#empty")
    frame = app.connect_click()
    app.log_in(frame, "gavinBelson", "hooli2016")
    assert frame.text("#title") == "Success"
    app.cdp.wait_for("document.querySelectorAll('#connections .item').length === 1", 20)
    frame.click("#done")
    app.cdp.wait_for("document.getElementById('panel').hidden", 20)
    app.cdp.wait_for("document.querySelector('#connections .item').dataset.status === 'active'", 30)
    [shown] = app.listed()
    assert shown["name"] == "Hooli"
    [stored] = app.cli("connections", "--json")
    assert stored["id"] == shown["id"]
    assert stored["status"] == "active"
    events = [e["event"] for e in app.cli("events", "--json") if e["accepted"]]
    assert events[:1] == ["handshake"]
    assert events[-3:] == ["job", "connection", "completion"]
    return str(stored["id"])


def test_wrong_password_stores_nothing_and_records_the_failure(
    desktop: Callable[..., Desktop],
) -> None:
    app = desktop()
    frame = app.connect_click()
    app.log_in(frame, "gavinBelson", "wrong-password")
    assert frame.text("#title") == "Unsuccessful"
    app.cdp.wait_for("!document.getElementById('panel-status').hidden", 20)
    assert "Not connected" in (app.cdp.text("#panel-status") or "")
    assert app.cli("connections", "--json") == []
    failures = [
        e for e in app.cli("events", "--json") if e["event"] == "connection" and e["accepted"]
    ]
    assert failures[-1]["payload"]["payload"]["success"] is False
    assert failures[-1]["payload"]["payload"]["data"]["code"] == "invalid-credentials"


def test_cancel_closes_the_panel_and_stores_nothing(desktop: Callable[..., Desktop]) -> None:
    app = desktop()
    frame = app.connect_click()
    frame.click("#close")
    app.cdp.wait_for("document.getElementById('panel').hidden", 20)
    assert app.cli("connections", "--json") == []
    assert "cancellation" in [e["event"] for e in app.cli("events", "--json")]


def test_our_own_close_button_works_when_blink_sends_nothing(
    desktop: Callable[..., Desktop],
) -> None:
    app = desktop()
    app.connect_click()
    app.cdp.click("#panel-close")
    app.cdp.wait_for(
        "document.getElementById('panel').hidden && !document.querySelector('#blink-host iframe')",
        20,
    )


def test_a_message_from_another_window_or_origin_is_dropped(
    desktop: Callable[..., Desktop],
) -> None:
    app = desktop()
    frame = app.connect_click()
    blink_origin = app.cdp.evaluate(f"new URL({IFRAME}.src).origin")
    # A second frame on Blink's own origin: right origin, wrong window.
    app.cdp.evaluate(
        "(() => { const f = document.createElement('iframe'); f.id = 'intruder';"
        f" f.src = {json.dumps(blink_origin + '/static/blink.css')};"
        " document.body.appendChild(f); })()"
    )
    intruder = app.cdp.frame(blink_origin + "/static/blink.css", timeout=20)
    forged = json.dumps(
        json.dumps(
            {"event": "connection", "payload": {"success": True, "data": {"id": "forged-1"}}}
        )
    )
    intruder.evaluate(f"window.parent.postMessage({forged}, '*')")
    # And the host page itself (the wrong origin) posting the same.
    app.cdp.evaluate(f"window.postMessage({forged}, '*')")
    app.cdp.wait_for("document.getElementById('dropped').textContent.startsWith('2 messages')", 20)
    # Blink still works afterwards, and only its own messages were stored.
    app.log_in(frame, "gavinBelson", "hooli2016")
    app.cdp.wait_for("document.querySelectorAll('#connections .item').length === 1", 20)
    stored = app.cli("connections", "--json")
    assert [c["id"] for c in stored] != ["forged-1"]
    assert all(e["payload"] != "forged-1" for e in app.cli("events", "--json"))
    assert "forged-1" not in json.dumps(app.cli("events", "--json"))


def test_basiq_scheme_transport_end_to_end(desktop: Callable[..., Desktop]) -> None:
    app = desktop(transport="scheme")
    frame = app.connect_click()
    assert "iframe=true" not in app.cdp.evaluate(f"{IFRAME}.src")
    app.log_in(frame, "gavinBelson", "hooli2016")
    app.cdp.wait_for("document.querySelectorAll('#connections .item').length === 1", 20)
    frame.click("#done")
    app.cdp.wait_for("document.getElementById('panel').hidden", 20)
    [stored] = app.cli("connections", "--json")
    events = app.cli("events", "--json")
    assert {e["origin"] for e in events} == {"basiq://"}
    assert [e["event"] for e in events if e["event"] != "handshake"] == [
        "job",
        "connection",
        "completion",
    ]
    assert events[-2]["payload"]["payload"]["data"]["id"] == stored["id"]


def test_first_run_asks_who_is_connecting(desktop: Callable[..., Desktop]) -> None:
    app = desktop(user=None)
    app.cdp.wait_for("!document.getElementById('who').hidden", 20)
    app.cdp.type("#who-input", "not an email")
    app.cdp.click("#who button[type=submit]")
    app.cdp.wait_for("!document.getElementById('who-error').hidden", 10)
    app.cdp.evaluate("document.getElementById('who-input').value = ''")
    app.cdp.type("#who-input", "richard@piedpiper.com")
    app.cdp.click("#who button[type=submit]")
    app.cdp.wait_for(f"{IFRAME} !== null", 20)
    app.process.terminate()
    app.process.wait(timeout=20)
    again = desktop(user=None)  # the same data dir: the answer was remembered
    again.cdp.wait_for("!document.getElementById('connect').disabled", 20)
    assert again.cdp.evaluate("document.getElementById('who').hidden") is True


def test_backend_mode_end_to_end_against_serve_and_the_emulator(
    desktop: Callable[..., Desktop], tmp_path: Path
) -> None:
    """A company's setup: the app holds no key; your server does, and hears of each connection."""
    with Emulator(job_speed=20) as emulator:
        settings = load_settings(
            api_key=emulator.api_key, api_url=emulator.url, client_ids=["desktop"]
        )
        server = build_server(settings, database=tmp_path / "server.sqlite")
        try:
            http = Serving(server.app).start()
            app = desktop(
                backend_url=http.url,
                client_id="desktop",
                api_url=emulator.url,
                blink_url=f"{emulator.url}/index.html",
            )
            app.cdp.wait_for("document.getElementById('mode-badge').hidden === true", 20)
            frame = app.connect_click()
            app.log_in(frame, "gavinBelson", "hooli2016")
            app.cdp.wait_for("document.querySelectorAll('#connections .item').length === 1", 20)
            [stored] = app.cli("connections", "--json")
            user = server.store.basiq_user("gavin@hooli.com")
            assert user is not None and user == stored["user_id"]

            def reported() -> bool:
                reports = server.store.connections_of(user)
                return stored["id"] in [report.connection_id for report in reports]

            wait_for(reported, timeout=20)
            assert emulator.api_key not in json.dumps(app.cli("events", "--json"))
            http.stop()
        finally:
            server.close()


def test_non_web_schemes_are_refused(desktop: Callable[..., Desktop], tmp_path: Path) -> None:
    app = desktop()
    frame = app.connect_click()
    # A real click is a user gesture: the one way a page may reach the desktop's URL opener.
    frame.evaluate(
        "(() => { const a = document.createElement('a'); a.id = 'mail';"
        " a.href = 'mailto:someone@example.com'; a.textContent = 'mail us';"
        " document.body.prepend(a); })()"
    )
    frame.click("#mail")
    log = tmp_path / "logs" / "blink-desktop.log"
    wait_for(lambda: log.exists() and "refused a navigation to a 'mailto' URL" in log.read_text())
    assert frame.text("#title") == "Select your bank"

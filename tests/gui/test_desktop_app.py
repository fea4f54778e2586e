"""The desktop app end to end: its own process and window, driven like a person over DevTools.

Each test starts `python -m blink_desktop` offscreen with its own data dir, clicks through
Blink inside the window, then checks what the app stored through its own command line.
The launch command is a parameter, so tests/gui/test_frozen.py runs the same flow against the
PyInstaller binary.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import bottle
import pytest

from blink_desktop.emulator import Emulator
from blink_desktop.httpd import Serving
from blink_desktop.server import Server, build_server
from blink_desktop.settings import load_settings
from harness.cdp import CDP, Frame
from harness.ports import free_port
from tests.conftest import serving, wait_for

pytestmark = pytest.mark.gui

IFRAME = "document.querySelector('#blink-host iframe')"
SOURCE_APP = (sys.executable, "-m", "blink_desktop")
# Records every line the connect panel shows, so a test can tell what was ever on screen.
WATCH_PANEL = """(() => {
  const line = document.getElementById('panel-status');
  window.__panelLines = [];
  const note = () => { if (!line.hidden && line.textContent)
    window.__panelLines.push(line.dataset.kind + ': ' + line.textContent); };
  new MutationObserver(note).observe(line, {attributes: true, childList: true, subtree: true,
                                            characterData: true});
})()"""


class Blink(Frame):
    """The panel's Blink frame, and only that one.

    Once it is gone (the panel closed), it stays gone: by then the next connect's Blink may
    already be loading, out of sight, from the same origin, and a plain `Frame` would move on
    to it.
    """

    def _context_id(self) -> int | None:
        if self._world is None and self._frame_id is not None:
            created = self.cdp.send(
                "Page.createIsolatedWorld", {"frameId": self._frame_id, "worldName": "cdp-driver"}
            )
            self._world = created["executionContextId"]
        return super()._context_id()


def blink_shows(frame: Frame) -> str:
    """What Blink shows, for a failed wait: its title, screen, fields and focus."""
    try:
        return str(
            frame.evaluate(
                """JSON.stringify({
                title: document.getElementById('title').textContent,
                screen: [...document.querySelectorAll('[id^=screen-]')]
                    .filter(s => !s.hidden).map(s => s.id),
                fields: [...document.querySelectorAll('input')].filter(i => i.offsetParent)
                    .map(i => i.id + '=' + i.value.length + ' chars'),
                focus: (document.activeElement || {}).id, hasFocus: document.hasFocus(),
                text: document.body.innerText.slice(0, 300)})"""
            )
        )
    except Exception as exc:  # the frame may be gone: say so rather than hide the first error
        return f"<Blink cannot be read: {exc}>"


def blink_frame(cdp: CDP, origin: str, timeout: float = 20) -> Blink:
    """The Blink frame the panel shows, once its document has loaded."""
    cdp.wait_for(f"{IFRAME} && new URL({IFRAME}.src).origin === {json.dumps(origin)}", timeout)
    frame = Blink(cdp, origin + "/")
    frame.wait_for("document.readyState === 'complete'", timeout)
    return frame


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
        frame = blink_frame(self.cdp, origin)
        frame.wait_for("document.getElementById('title').textContent === 'Select your bank'", 20)
        return frame

    def log_in(self, frame: Frame, login: str, password: str, institution: str = "AU00000") -> None:
        self.submit_login(frame, login, password, institution)
        try:
            frame.wait_visible("#screen-result", 20)
        except TimeoutError as exc:
            raise TimeoutError(f"{exc}; Blink shows {blink_shows(frame)}") from None

    def submit_login(
        self, frame: Frame, login: str, password: str, institution: str = "AU00000"
    ) -> None:
        """Pick the bank, type the login and press Connect; Blink then says "Connecting…"."""
        frame.click(f'[data-institution-id="{institution}"]')
        frame.wait_visible("#loginId")
        frame.type("#loginId", login)
        frame.type("#password", password)
        frame.click("#connect")

    def stored_events(self) -> list[tuple[str, str | None]]:
        """(event, job id) of each accepted message, read from the database while the app runs.

        Quicker than the command line, for waits that race a job at Basiq.
        """
        path = Path(self.env["BLINK_DESKTOP_DATA_DIR"]) / "blink-desktop.sqlite"
        if not path.exists():
            return []
        with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)) as db:
            rows = db.execute("SELECT event, job_id FROM events WHERE accepted ORDER BY seq")
            return [(str(event), job_id) for event, job_id in rows]

    def panel_lines(self) -> list[str]:
        """Every line the panel showed since WATCH_PANEL ran, as "kind: text"."""
        lines: list[str] = self.cdp.evaluate("window.__panelLines")
        return lines

    def bootstrap(self) -> dict[str, Any]:
        """What the bridge tells the page at start, asked the way the page asks."""
        reply: dict[str, Any] = self.cdp.evaluate(
            "window.pywebview.api.bootstrap(window.pywebview.token)", await_promise=True
        )
        return reply

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

    def start(
        command: Sequence[str] = SOURCE_APP, *, display: str | None = None, **settings: str | None
    ) -> Desktop:
        """The app offscreen, or on an X display (for real keys and clicks) when given one."""
        port = free_port()
        env = {
            **os.environ,
            "QT_QPA_PLATFORM": "offscreen" if display is None else "xcb",
            "QTWEBENGINE_REMOTE_DEBUGGING": str(port),
            "BLINK_DESKTOP_DATA_DIR": str(tmp_path / "data"),
            "BLINK_DESKTOP_LOG_DIR": str(tmp_path / "logs"),
            "BLINK_DESKTOP_USER": "gavin@hooli.com",
            "BLINK_DESKTOP_EMULATOR_JOB_SPEED": "20",
        }
        if display is not None:
            env["DISPLAY"] = display
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
    assert app.cli("connections", "--json") == []
    failures = [
        e for e in app.cli("events", "--json") if e["event"] == "connection" and e["accepted"]
    ]
    assert failures[-1]["payload"]["payload"]["success"] is False
    assert failures[-1]["payload"]["payload"]["data"]["code"] == "invalid-credentials"


def test_one_message_at_a_time_and_only_while_it_is_true(desktop: Callable[..., Desktop]) -> None:
    """Blink shows its own failure (no banner of ours over it, nor over the next login form);
    our green "Retrieving…" line lasts until the row says Active."""
    app = desktop()
    frame = app.connect_click()
    app.cdp.evaluate(WATCH_PANEL)
    app.log_in(frame, "bighead", "password")  # "Account is locked", shown by Blink
    assert "locked" in (frame.text("#result-message") or "")
    frame.click("#retry")
    frame.wait_visible("#loginId")
    frame.type("#loginId", "gavinBelson")
    frame.type("#password", "hooli2016")
    frame.click("#connect")
    frame.wait_visible("#done", 20)
    # Events are handled in order, so once the success line is up the failure was handled too.
    app.cdp.wait_for(
        "document.getElementById('panel-status').dataset.kind === 'success'"
        " && !document.getElementById('panel-status').hidden",
        20,
    )
    app.cdp.wait_for("document.querySelector('#connections .item').dataset.status === 'active'", 30)
    app.cdp.wait_for("document.getElementById('panel-status').hidden", 5)
    lines = app.panel_lines()
    assert lines and all(line.startswith("success: ") for line in lines), lines
    assert not any("locked" in line.lower() for line in lines), lines


def test_a_wrong_security_answer_is_not_reported_as_wrong_credentials(
    desktop: Callable[..., Desktop],
) -> None:
    """Pied Piper Bank asks a question; a wrong answer is Blink's to show, in the panel."""
    app = desktop()
    frame = app.connect_click()
    app.cdp.evaluate(WATCH_PANEL)
    app.submit_login(frame, "jared", "django", institution="AU00002")
    frame.wait_visible("#mfa-answer-0", 20)
    frame.type("#mfa-answer-0", "0000")
    frame.click("#mfa-submit")
    frame.wait_visible("#screen-result", 20)
    assert frame.text("#title") == "Unsuccessful"
    assert "security challenge" in (frame.text("#result-message") or "")
    # Blink's close: handled after the failure, so the panel has shown all it would by then.
    frame.click("#close")
    app.cdp.wait_for("document.getElementById('panel').hidden", 10)
    assert app.panel_lines() == []
    assert app.cdp.evaluate("document.getElementById('notice').hidden") is True


def test_a_wrong_security_answer_after_the_panel_closed_is_worded_as_such(
    desktop: Callable[..., Desktop],
) -> None:
    """The person answers wrongly and closes Blink before it says so: the app follows the job
    and says what went wrong, from the failed step, not Basiq's "check credentials"."""
    app = desktop(emulator_job_speed="0.25")  # the bank takes 2 s to check the answer
    frame = app.connect_click()
    app.submit_login(frame, "jared", "django", institution="AU00002")
    frame.wait_visible("#mfa-answer-0", 30)
    frame.type("#mfa-answer-0", "0000")
    frame.click("#mfa-submit")
    frame.wait_for("document.getElementById('connecting-message').textContent.includes('answer')")
    frame.click("#close")
    app.cdp.wait_for("document.getElementById('panel').hidden", 10)
    app.cdp.wait_for("!document.getElementById('notice').hidden", 30)
    text = app.cdp.text("#notice") or ""
    assert "security question" in text, text
    assert "check credentials" not in text.lower()
    assert app.cli("connections", "--json") == []


def test_closing_blink_while_it_connects_keeps_the_connection(
    desktop: Callable[..., Desktop],
) -> None:
    """Issue 11, item 1: the job goes on at Basiq after the panel closes; the app follows it."""
    app = desktop(emulator_job_speed="0.5")  # the bank takes 2 to 4 s to check the login
    frame = app.connect_click()
    app.submit_login(frame, "jared", "django")
    frame.wait_for("document.getElementById('title').textContent === 'Connecting…'", 10)
    wait_for(lambda: "job" in [event for event, _ in app.stored_events()], timeout=10)
    assert "connection" not in [event for event, _ in app.stored_events()]
    frame.click("#close")  # Blink's own close: it reports cancellation
    app.cdp.wait_for("document.getElementById('panel').hidden", 10)
    app.cdp.wait_for("document.querySelectorAll('#connections .item').length === 1", 30)
    app.cdp.wait_for("document.querySelector('#connections .item').dataset.status === 'active'", 30)
    [shown] = app.listed()
    assert shown["name"] == "Hooli"
    assert "Hooli" in (app.cdp.text("#notice") or "")
    [stored] = app.cli("connections", "--json")
    assert stored["id"] == shown["id"]
    assert stored["status"] == "active"
    events = [e["event"] for e in app.cli("events", "--json") if e["accepted"]]
    assert "cancellation" in events
    assert "connection" not in events  # Blink never said it: the app found it


def test_cancel_closes_the_panel_and_stores_nothing(desktop: Callable[..., Desktop]) -> None:
    app = desktop()
    frame = app.connect_click()
    frame.click("#close")
    app.cdp.wait_for("document.getElementById('panel').hidden", 20)
    assert app.cli("connections", "--json") == []
    assert "cancellation" in [e["event"] for e in app.cli("events", "--json")]


def test_one_close_button_ours_until_blink_says_hello_then_blinks(
    desktop: Callable[..., Desktop],
) -> None:
    """Issue 11, item 4: never two close buttons stacked, never none that works."""
    app = desktop()
    app.cdp.wait_for("!document.getElementById('connect').disabled", 20)
    app.cdp.click("#connect")
    assert app.cdp.visible("#panel-close")  # Blink says hello a second after it loads
    app.cdp.wait_for(f"{IFRAME} && {IFRAME}.src.startsWith('http')", 20)
    origin = app.cdp.evaluate(f"new URL({IFRAME}.src).origin")
    frame = blink_frame(app.cdp, origin)
    wait_for(lambda: "handshake" in [event for event, _ in app.stored_events()], timeout=20)
    app.cdp.wait_for("!document.getElementById('panel-close').getClientRects().length", 10)
    assert frame.visible("#close")
    assert app.cdp.evaluate("document.activeElement.id") == "panel-box"
    frame.click("#close")
    app.cdp.wait_for("document.getElementById('panel').hidden", 10)


def test_our_close_button_stays_and_explains_when_blink_never_answers(
    desktop: Callable[..., Desktop],
) -> None:
    silent = bottle.Bottle()
    silent.route("/index.html", "GET", lambda: "<!doctype html><title>Blink</title><p>Loading…")
    with serving(silent) as url:
        app = desktop(blink_url=f"{url}/index.html")
        app.cdp.wait_for("!document.getElementById('connect').disabled", 20)
        app.cdp.click("#connect")
        blink_frame(app.cdp, url)
        app.cdp.wait_for("!document.getElementById('panel-status').hidden", 20)
        assert "not answered" in (app.cdp.text("#panel-status") or "")
        app.cdp.evaluate(f"window.__silent = {IFRAME}")
        app.cdp.click("#panel-close")
        # That Blink is gone; the next connect's may already be loading, out of sight.
        app.cdp.wait_for("document.getElementById('panel').hidden && !window.__silent.isConnected")


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


# -------------------------------------------------------------------------------------------------
# Start-up (issue 14): Blink loaded ahead, and a start that fails


def test_connect_shows_the_blink_loaded_ahead_at_once(desktop: Callable[..., Desktop]) -> None:
    """The next connect's Blink loads out of sight once the window is up; the click shows it,
    the same page, never the "Preparing" spinner, and Python hears from it only from then on."""
    app = desktop()
    app.cdp.wait_for(f"{IFRAME} && document.getElementById('panel').hidden", 20)
    origin = app.cdp.evaluate(f"new URL({IFRAME}.src).origin")
    ahead = blink_frame(app.cdp, origin)
    ahead.wait_for("document.getElementById('title').textContent === 'Select your bank'", 20)
    app.cdp.evaluate(
        f"""(() => {{
          window.__ahead = {IFRAME};
          const loading = document.getElementById('panel-loading');
          window.__spinner = false;
          new MutationObserver(() => {{ window.__spinner ||= !loading.hidden
            && !document.getElementById('panel').hidden; }})
            .observe(document.body, {{attributes: true, subtree: true}});
        }})()"""
    )
    assert app.stored_events() == []  # whatever Blink said so far waits for the person
    app.cdp.click("#connect")
    assert ahead.visible('[data-institution-id="AU00000"]')
    assert app.cdp.evaluate(f"{IFRAME} === window.__ahead") is True
    app.log_in(ahead, "gavinBelson", "hooli2016")
    app.cdp.wait_for("document.querySelectorAll('#connections .item').length === 1", 20)
    assert app.cdp.evaluate("window.__spinner") is False
    events = [event for event, _ in app.stored_events()]
    assert events[:1] == ["handshake"] and "connection" in events
    [stored] = app.cli("connections", "--json")
    log = Path(app.env["BLINK_DESKTOP_LOG_DIR"]) / "blink-desktop.log"
    assert "connect started for Basiq user " + stored["user_id"] in log.read_text()


def test_a_start_that_fails_says_why_in_the_window(desktop: Callable[..., Desktop]) -> None:
    app = desktop(log_level="LOUD")
    app.cdp.wait_for("!document.getElementById('notice').hidden", 20)
    assert "BLINK_DESKTOP_LOG_LEVEL" in (app.cdp.text("#notice") or "")
    assert app.cdp.evaluate("document.getElementById('connect').disabled") is True


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


def backend_app(
    desktop: Callable[..., Desktop], emulator: Emulator, tmp_path: Path
) -> tuple[Server, Serving, Desktop]:
    """`serve` on the emulator, and the app in backend mode against it; the caller stops both
    servers."""
    settings = load_settings(api_key=emulator.api_key, api_url=emulator.url, client_ids=["desktop"])
    server = build_server(settings, database=tmp_path / "server.sqlite")
    try:
        http = Serving(server.app).start()
    except BaseException:
        server.close()
        raise
    try:
        app = desktop(
            backend_url=http.url,
            client_id="desktop",
            api_url=emulator.url,
            blink_url=f"{emulator.url}/index.html",
        )
    except BaseException:
        http.stop()
        server.close()
        raise
    return server, http, app


def test_backend_mode_end_to_end_against_serve_and_the_emulator(
    desktop: Callable[..., Desktop], tmp_path: Path
) -> None:
    """A company's setup: the app holds no key; your server does, and hears of each connection."""
    with Emulator(job_speed=20) as emulator:
        server, http, app = backend_app(desktop, emulator, tmp_path)
        try:
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


# -------------------------------------------------------------------------------------------------
# Who is connecting (issue 11, item 6)


def test_the_window_says_who_is_connecting_and_lets_them_switch(
    desktop: Callable[..., Desktop],
) -> None:
    app = desktop()
    name = "document.getElementById('identity-name').textContent"
    app.cdp.wait_for(f"{name} === 'gavin@hooli.com'", 20)
    app.cdp.click("#switch")
    app.cdp.wait_for("document.activeElement.id === 'who-input'", 5)
    assert app.cdp.evaluate("document.getElementById('who-input').value") == "gavin@hooli.com"
    app.cdp.press("Escape")  # changes nothing, and focus goes back where it was
    app.cdp.wait_for("document.getElementById('who').hidden", 5)
    assert app.cdp.evaluate("document.activeElement.id") == "switch"
    app.cdp.click("#switch")
    app.cdp.type("#who-input", "richard@piedpiper.com")
    app.cdp.press("Enter")
    app.cdp.wait_for(f"{name} === 'richard@piedpiper.com'", 20)
    assert app.cdp.evaluate("document.getElementById('panel').hidden") is True
    frame = app.connect_click()
    app.log_in(frame, "richard", "tabsnotspaces")
    frame.click("#done")
    app.cdp.wait_for("document.getElementById('panel').hidden", 20)
    [stored] = app.cli("connections", "--json")
    users = Path(app.env["BLINK_DESKTOP_DATA_DIR"]) / "blink-desktop.sqlite"
    with closing(sqlite3.connect(f"file:{users}?mode=ro", uri=True)) as db:
        [(richard,)] = db.execute(
            "SELECT basiq_user_id FROM users WHERE identifier = 'richard@piedpiper.com'"
        )
    assert stored["user_id"] == richard
    app.process.terminate()
    app.process.wait(timeout=20)
    again = desktop(user=None)  # no BLINK_DESKTOP_USER: the last person is remembered
    again.cdp.wait_for(f"{name} === 'richard@piedpiper.com'", 20)


def test_the_list_shows_the_current_persons_connections(desktop: Callable[..., Desktop]) -> None:
    app = desktop()
    app.cdp.wait_for("!document.getElementById('connect').disabled", 20)
    assert "user_id" in app.bootstrap()  # None until the first connect makes the Basiq user
    frame = app.connect_click()
    app.log_in(frame, "gavinBelson", "hooli2016")
    frame.click("#done")
    app.cdp.wait_for("document.querySelectorAll('#connections .item').length === 1", 20)
    app.cdp.wait_for("document.getElementById('panel').hidden", 20)  # nothing over #switch
    [gavins] = app.listed()
    app.cdp.click("#switch")
    app.cdp.type("#who-input", "richard@piedpiper.com")
    app.cdp.press("Enter")
    app.cdp.wait_for("document.getElementById('identity-name').textContent.startsWith('r')", 20)
    app.cdp.wait_for("!document.getElementById('empty').hidden", 10)
    assert app.listed() == []
    app.cdp.click("#switch")
    app.cdp.type("#who-input", "gavin@hooli.com")
    app.cdp.press("Enter")
    app.cdp.wait_for("document.querySelectorAll('#connections .item').length === 1", 20)
    assert [row["id"] for row in app.listed()] == [gavins["id"]]


def test_each_row_names_its_accounts_under_the_bank(desktop: Callable[..., Desktop]) -> None:
    """Issue 11, item 7: two connections at one bank are told apart by their accounts."""
    app = desktop()
    frame = app.connect_click()
    app.log_in(frame, "gavinBelson", "hooli2016")
    frame.click("#done")
    app.cdp.wait_for("document.querySelector('#connections .item').dataset.status === 'active'", 30)
    [stored] = app.cli("connections", "--json")
    assert stored["detail"]
    detail = json.dumps(stored["detail"])
    app.cdp.wait_for(
        f"(el => el && el.textContent === {detail})"
        "(document.querySelector('#connections .item-name + .item-detail'))",
        10,
    )


# -------------------------------------------------------------------------------------------------
# The window's keys (issue 11, item 5), with real keys on a real X display. DevTools key events
# go straight to the page and never pass through Qt, so they cannot show a window shortcut works.


@pytest.fixture
def x_display(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A private Xvfb display; skipped, saying what to install, where there is none."""
    missing = [tool for tool in ("Xvfb", "xdotool") if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"real key presses need {' and '.join(missing)}: apt-get install xvfb xdotool")
    read, write = os.pipe()
    server = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write), "-screen", "0", "1280x900x24", "-nolisten", "tcp"],
        pass_fds=(write,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write)
    try:
        with os.fdopen(read) as chosen:
            number = chosen.readline().strip()  # Xvfb writes it once it is ready
        assert number, "Xvfb did not start"
        display = f":{number}"
        monkeypatch.setenv("DISPLAY", display)
        monkeypatch.setenv("QT_QPA_PLATFORM", "xcb")
        from blink_desktop.app.display import check_qt
        from blink_desktop.errors import SettingsError

        try:
            check_qt()
        except SettingsError as exc:
            pytest.skip(str(exc))
        yield display
    finally:
        server.terminate()
        server.wait(timeout=10)


@dataclass
class Xdo:
    """Real mouse and keyboard input into one X window, through xdotool."""

    display: str
    window: str

    @classmethod
    def find(cls, display: str, title: str = "blink-desktop") -> Xdo:
        def search() -> str | None:
            found = cls.run(display, "search", "--onlyvisible", "--name", f"^{title}$", check=False)
            return found.split()[0] if found.split() else None

        return cls(display, wait_for(search, timeout=20))

    @staticmethod
    def run(display: str, *args: str, check: bool = True) -> str:
        result = subprocess.run(
            ["xdotool", *args],
            env={**os.environ, "DISPLAY": display},
            capture_output=True,
            text=True,
            timeout=20,
            check=check,
        )
        return result.stdout

    def click(self, x: float, y: float) -> None:
        """Click at window coordinates (the page's CSS pixels: Xvfb's scale is 1)."""
        self.run(self.display, "mousemove", "--window", self.window, str(round(x)), str(round(y)))
        self.run(self.display, "click", "1")

    def key(self, *keys: str) -> None:
        self.run(self.display, "key", *keys)

    def type(self, text: str) -> None:
        self.run(self.display, "type", text)


def focus_inside_blink(app: Desktop, frame: Frame, xdo: Xdo) -> None:
    """Click into Blink's search field with the real mouse and type there with real keys."""
    left, top = app.cdp.evaluate(f"(r => [r.left, r.top])({IFRAME}.getBoundingClientRect())")
    x, y = frame.element_center("#search")
    xdo.click(left + x, top + y)
    frame.wait_for("document.activeElement.id === 'search'", 10)
    xdo.type("hoo")
    frame.wait_for("document.getElementById('search').value === 'hoo'", 10)
    assert app.cdp.evaluate(f"document.activeElement === {IFRAME}")


def test_escape_closes_the_panel_while_focus_is_inside_blink(
    desktop: Callable[..., Desktop], x_display: str
) -> None:
    app = desktop(display=x_display)
    frame = app.connect_click()
    xdo = Xdo.find(x_display)
    focus_inside_blink(app, frame, xdo)
    xdo.key("Escape")
    app.cdp.wait_for("document.getElementById('panel').hidden", 10)
    assert app.cdp.evaluate("document.activeElement.id") == "connect"
    assert app.process.poll() is None


def test_ctrl_w_closes_the_panel_then_the_window_and_ctrl_q_quits(
    desktop: Callable[..., Desktop], x_display: str
) -> None:
    app = desktop(display=x_display)
    frame = app.connect_click()
    xdo = Xdo.find(x_display)
    focus_inside_blink(app, frame, xdo)
    xdo.key("ctrl+w")
    app.cdp.wait_for("document.getElementById('panel').hidden", 10)
    assert app.process.poll() is None
    xdo.key("ctrl+w")
    assert app.process.wait(timeout=20) == 0
    again = desktop(display=x_display)
    frame = again.connect_click()
    focus_inside_blink(again, frame, Xdo.find(x_display))
    Xdo.find(x_display).key("ctrl+q")
    assert again.process.wait(timeout=20) == 0

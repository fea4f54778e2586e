"""Real-window fixtures: a host page on another origin, and one Qt window per test.

The emulator and its server-side client (``emulator``, ``api``) come from tests/conftest.py.

Each test's window is its own process (``python -m harness.window``), driven over the
DevTools protocol: QtWebEngine allows one ``webview.start()`` per process.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import bottle
import pytest

from blink_desktop.emulator import Emulator
from harness.cdp import CDP, Frame
from harness.ports import free_port
from tests.conftest import Api, serving

ROOT = Path(__file__).resolve().parents[2]
WINDOW_LIFETIME_S = 120
CONTROL = "__control__"
SCHEME_CONTROL = "basiq://settle/"


# -------------------------------------------------------------------------------------------------
# A host page on another origin that embeds Blink and records what it posts

HOST_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Host</title>
<style>html,body{margin:0;height:100%;overflow:hidden}iframe{border:0;width:100%;height:100%;display:block}</style>
</head><body>
<iframe id="blink" title="Connect your bank"></iframe>
<script>
  window.__events = [];
  window.addEventListener("message", function (e) {
    var fromFrame = e.source === document.getElementById("blink").contentWindow;
    window.__events.push({origin: e.origin, data: e.data, fromFrame: fromFrame});
  });
  window.loadBlink = function (src) {
    window.__events = [];
    document.getElementById("blink").src = src;
  };
  window.loadBlink(new URLSearchParams(location.search).get("src"));
</script>
</body></html>
"""


@dataclass
class HostServer:
    origin: str

    def page(self, blink_url: str) -> str:
        return f"{self.origin}/host.html?{urlencode({'src': blink_url})}"


@pytest.fixture(scope="session")
def host() -> Iterator[HostServer]:
    app = bottle.Bottle()
    app.route("/host.html", "GET", lambda: HOST_PAGE)
    with serving(app) as url:
        yield HostServer(url)


# -------------------------------------------------------------------------------------------------
# One real window per test


@dataclass
class Window:
    """A ``harness.window`` process and the DevTools connection to its page."""

    process: subprocess.Popen[bytes]
    cdp: CDP
    log: Path
    scheme_log: Path | None = None

    def scheme_urls(self) -> list[str]:
        if self.scheme_log is None or not self.scheme_log.exists():
            return []
        lines = self.scheme_log.read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in lines if line]

    def settle_scheme_urls(self, timeout: float = 10.0) -> list[str]:
        """Every basiq:// URL the page navigated to before now, in order, and nothing else.

        The hook hands URLs over in order, so once a control navigation made now has been
        recorded, everything the page emitted before it has been too: no sleeping.
        """
        self.cdp.evaluate(f"location.replace({json.dumps(SCHEME_CONTROL)})")
        deadline = time.monotonic() + timeout
        while True:
            urls = self.scheme_urls()
            if SCHEME_CONTROL in urls:
                return urls[: urls.index(SCHEME_CONTROL)]
            if time.monotonic() >= deadline:
                raise TimeoutError(f"the control navigation never arrived; got {urls}")
            time.sleep(0.05)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if report.when == "call":
        item.stash[_CALL_FAILED] = report.failed
    return report


_CALL_FAILED = pytest.StashKey[bool]()


@pytest.fixture
def open_window(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Callable[..., Window]]:
    """Start a window on a URL; it is stopped (SIGTERM, then SIGKILL) after the test.

    When the test fails, the end of each window's log (page console included) is printed.
    """
    started: list[tuple[subprocess.Popen[bytes], Window | None, threading.Timer]] = []

    def start(
        url: str,
        *,
        page_prefix: str | None = None,
        scheme_log: bool = False,
        width: int = 420,
        height: int = 680,
    ) -> Window:
        port = free_port()
        log = tmp_path / f"window-{len(started)}.log"
        command = [sys.executable, "-m", "harness.window", url]
        command += ["--width", str(width), "--height", str(height)]
        scheme_path = tmp_path / f"scheme-{len(started)}.jsonl" if scheme_log else None
        if scheme_path is not None:
            command += ["--scheme-log", str(scheme_path)]
        env = {**os.environ, "QTWEBENGINE_REMOTE_DEBUGGING": str(port)}
        with log.open("wb") as out:
            process = subprocess.Popen(
                command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
            )
        watchdog = threading.Timer(WINDOW_LIFETIME_S, process.kill)
        watchdog.daemon = True
        watchdog.start()
        started.append((process, None, watchdog))
        try:
            cdp = CDP.connect(
                port,
                url_prefix=page_prefix if page_prefix is not None else url,
                alive=lambda: process.poll() is None,
            )
        except Exception:
            sys.stderr.write(log.read_text(errors="replace")[-4000:])
            raise
        window = Window(process, cdp, log, scheme_path)
        started[-1] = (process, window, watchdog)
        return window

    yield start

    for process, window, watchdog in started:
        if window is not None:
            window.cdp.close()
        _stop(process)
        watchdog.cancel()
    if request.node.stash.get(_CALL_FAILED, False):
        for log in sorted(tmp_path.glob("window-*.log")):
            sys.stderr.write(f"--- {log.name} (last 4000 characters) ---\n")
            sys.stderr.write(log.read_text(errors="replace")[-4000:])


# -------------------------------------------------------------------------------------------------
# Blink in the host page, driven like a person


@dataclass
class Event:
    event: str
    payload: Any
    has_payload: bool
    origin: str
    raw: str


@dataclass
class BlinkRun:
    """Blink inside the host page: the frame to drive and the messages the host got."""

    window: Window
    blink_origin: str
    _frame: Frame | None = None

    @property
    def page(self) -> CDP:
        return self.window.cdp

    @property
    def frame(self) -> Frame:
        if self._frame is None:
            self._frame = self.page.frame(self.blink_origin + "/", timeout=15)
        return self._frame

    def load(self, blink_url: str) -> Frame:
        """Point the host's iframe at a new Blink URL (the host forgets earlier messages)."""
        # Mark the old document so nothing below mistakes it for the new one.
        self.frame.evaluate("document.documentElement.setAttribute('data-unloading', '')")
        self.page.evaluate(f"window.loadBlink({json.dumps(blink_url)})")
        self.frame.wait_for(
            "!document.documentElement.hasAttribute('data-unloading')"
            " && document.readyState === 'complete'",
            15,
        )
        return self.frame

    def messages(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self.page.evaluate("window.__events")
        return result

    def events(self) -> list[Event]:
        out = []
        for message in self.messages():
            if message["data"] == CONTROL:
                continue
            assert message["fromFrame"], message
            data = json.loads(message["data"])
            assert isinstance(data, dict) and set(data) <= {"event", "payload"}, data
            out.append(
                Event(
                    data["event"],
                    data.get("payload"),
                    "payload" in data,
                    message["origin"],
                    message["data"],
                )
            )
        return out

    def wait_events(self, count: int, timeout: float = 15.0) -> list[Event]:
        self.page.wait_for(
            f"window.__events.filter(m => m.data !== {json.dumps(CONTROL)}).length >= {count}",
            timeout,
        )
        return self.events()

    def settle(self, timeout: float = 10.0) -> list[Event]:
        """Every message Blink posted before now, in order, and nothing else.

        A control message posted from Blink's frame after the action queues behind anything
        Blink posted before it, so once it arrives the list is complete: no sleeping.
        """
        control = json.dumps(CONTROL)
        self.page.evaluate(f"window.__events = window.__events.filter(m => m.data !== {control})")
        self.frame.evaluate(f"window.parent.postMessage({control}, '*')")
        self.page.wait_for(f"window.__events.some(m => m.data === {control})", timeout)
        return self.events()

    # -- the person's actions -------------------------------------------------------------------

    def wait_title(self, text: str, timeout: float = 15.0) -> Frame:
        frame = self.frame
        frame.wait_for(
            f"document.getElementById('title').textContent === {json.dumps(text)}", timeout
        )
        return frame

    def choose(self, institution_id: str) -> Frame:
        frame = self.wait_title("Select your bank")
        frame.click(f'[data-institution-id="{institution_id}"]')
        frame.wait_visible("#loginId")
        return frame

    def log_in(self, login_id: str, password: str, *, submit: str = "click") -> Frame:
        frame = self.wait_title("Login")
        frame.type("#loginId", login_id)
        frame.type("#password", password)
        if submit == "enter":
            self.page.press("Enter")
        else:
            frame.click("#connect")
        return frame

    def result(self, timeout: float = 15.0) -> tuple[str, str]:
        """Wait for the result screen; return its title and message."""
        frame = self.frame
        frame.wait_visible("#screen-result", timeout)
        return frame.text("#title") or "", frame.text("#result-message") or ""


def blink_url(base: str, **params: str | None) -> str:
    query = {name: value for name, value in params.items() if value is not None}
    return f"{base}/index.html?{urlencode(query)}"


@dataclass
class Customer:
    user_id: str
    token: str


@pytest.fixture
def customer(api: Api) -> Customer:
    """A Basiq user and a CLIENT_ACCESS token (basiq-version 2.0) for Blink."""
    return Customer(api.user(), api.token("CLIENT_ACCESS", "2.0"))


@pytest.fixture
def blink(
    open_window: Callable[..., Window], host: HostServer, emulator: Emulator
) -> Callable[..., BlinkRun]:
    """Open Blink (iframe=true plus the given query parameters) in a host page's iframe."""

    def start(*, width: int = 420, height: int = 680, **params: str | None) -> BlinkRun:
        url = blink_url(emulator.url, iframe="true", **params)
        window = open_window(host.page(url), page_prefix=host.origin, width=width, height=height)
        run = BlinkRun(window, emulator.url)
        run.frame.wait_for("document.readyState === 'complete'", 15)
        return run

    return start

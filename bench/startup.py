"""Start-up, timed from outside as a person feels it: the app against bare pywebview windows.

Every window runs offscreen in its own process with a DevTools endpoint; the bench polls it
every POLL_S seconds, the same way for the app and for its baselines, and times from just before
it starts the process (or just before it clicks). "Bank list visible" means Blink's "Select your
bank" screen is shown with at least one bank on it.

- `app_run`: the app (source or frozen) on a data folder where it ran before (it knows the
  person and their Basiq user), with its embedded emulator; the bench clicks "Connect a bank"
  as soon as it is enabled.
- `bare_run`: bench/bare_window.py, against an emulator the bench started beforehand, with a
  Basiq user and a client token made beforehand (`Prepared`).

Each `Run` also holds the peak memory of the process and its QtWebEngine children, and the CPU
time each side had spent when the list was seen.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

from harness.cdp import CDP, Frame
from harness.ports import free_port

ROOT = Path(__file__).resolve().parents[1]
POLL_S = 0.01
TIMEOUT_S = 60.0
PERSON = "bench@example.com"
TICKS = os.sysconf("SC_CLK_TCK")  # CPU time in /proc is counted in these

CONNECT_ENABLED = "(b => !!b && !b.disabled)(document.getElementById('connect'))"
IFRAME = "document.querySelector('#blink-host iframe')"
LIST_VISIBLE = """(() => {
  const screen = document.getElementById('screen-institutions');
  const tile = document.querySelector('#institutions [data-institution-id]');
  return !!screen && !screen.hidden && !!tile && tile.getClientRects().length > 0;
})()"""


@dataclass(frozen=True)
class Run:
    """One start, in seconds (None where it does not apply) and MB."""

    ready: float | None  # process start -> window ready
    listed: float  # process start -> Blink's bank list visible
    click: float | None  # click -> Blink's bank list visible
    memory: float  # peak resident memory of the process and its children
    cpu: float  # CPU time of the Python process itself until the list was seen
    engine_cpu: float  # CPU time of its QtWebEngine processes until then


def medians(samples: Iterable[Sequence[float]]) -> list[float]:
    """The median of each column of `samples` (runs of the same steps or fields)."""
    return [statistics.median(column) for column in zip(*samples, strict=True)]


@dataclass(frozen=True)
class Prepared:
    """The baselines' Blink: an emulator the bench runs, and a user and token made beforehand."""

    blink_url: str
    origin: str


def clean_env(folder: Path, port: int | None = None) -> dict[str, str]:
    """This machine's environment without the app's settings or proxies, offscreen, with
    DevTools on `port` (none when None), and the app's folders in `folder`."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("BLINK_DESKTOP_") and not name.lower().endswith("_proxy")
    }
    config = folder / "config.toml"
    config.touch()
    if port is not None:
        env["QTWEBENGINE_REMOTE_DEBUGGING"] = str(port)
    env.update(
        QT_QPA_PLATFORM="offscreen",
        BLINK_DESKTOP_CONFIG=str(config),
        BLINK_DESKTOP_DATA_DIR=str(folder / "data"),
        BLINK_DESKTOP_LOG_DIR=str(folder / "logs"),
        BLINK_DESKTOP_USER=PERSON,
    )
    return env


def _family(pid: int) -> set[int]:
    """The process and its live descendants."""
    family = {pid}
    changed = True
    while changed:
        changed = False
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit() or int(entry.name) in family:
                continue
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parent = int(stat.rsplit(")", 1)[1].split()[1])
            if parent in family:
                family.add(int(entry.name))
                changed = True
    return family


def peak_memory_mb(pid: int) -> float:
    """Sum of each process's peak resident set (VmHWM) over the process and its descendants."""
    total = 0
    for member in _family(pid):
        try:
            for line in Path(f"/proc/{member}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total / 1024


def cpu_seconds(pid: int) -> tuple[float, float]:
    """CPU time (user and system) so far of the process, and of its live descendants."""
    own = others = 0.0
    for member in _family(pid):
        try:
            fields = Path(f"/proc/{member}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        spent = (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime
        if member == pid:
            own = spent
        else:
            others += spent
    return own, others


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


def _page(port: int, process: subprocess.Popen[bytes]) -> CDP:
    """The window's page over DevTools, once it is served (pywebview's server is on 127.0.0.1)."""
    return CDP.connect(
        port,
        timeout=TIMEOUT_S,
        url_prefix="http://127.0.0.1",
        alive=lambda: process.poll() is None,
    )


def _click(cdp: CDP, selector: str) -> float:
    """Click the middle of an element with real mouse events; the time just before."""
    box = cdp.evaluate(
        f"(r => [r.left + r.width / 2, r.top + r.height / 2])"
        f"(document.querySelector('{selector}').getBoundingClientRect())"
    )
    clicked = time.time()
    cdp.mouse_click(box[0], box[1])
    return clicked


def _list_visible(cdp: CDP, origin: str) -> float:
    """Wait for Blink's bank list in the frame from `origin`; the time it was seen."""
    Frame(cdp, origin + "/").wait_for(LIST_VISIBLE, TIMEOUT_S, interval=POLL_S)
    return time.time()


def app_run(
    command: Sequence[str], template: Path, settle: float = 0.0, cwd: Path | None = None
) -> Run:
    """Start the app (in `cwd`) on a copy of `template` (its data folder), click Connect as
    soon as it is enabled (or `settle` seconds later), and see Blink's list."""
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        shutil.copytree(template, folder / "data")
        port = free_port()
        env = clean_env(folder, port)
        started = time.time()
        process = subprocess.Popen(
            list(command), env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            with _page(port, process) as cdp:
                cdp.wait_for(CONNECT_ENABLED, TIMEOUT_S, interval=POLL_S)
                ready = time.time() - started
                time.sleep(settle)
                clicked = _click(cdp, "#connect")
                cdp.wait_for(f"{IFRAME}?.src.startsWith('http')", TIMEOUT_S, interval=POLL_S)
                origin = cdp.evaluate(f"new URL({IFRAME}.src).origin")
                seen = _list_visible(cdp, origin)
                cpu = cpu_seconds(process.pid)
                memory = peak_memory_mb(process.pid)
                try:
                    cdp.wait_for("!document.getElementById('mode-badge').hidden", 10)
                except TimeoutError:
                    raise SystemExit("the app is not on its emulator (an API key?)") from None
        finally:
            _stop(process)
    return Run(ready, seen - started, seen - clicked, memory, *cpu)


def bare_run(mode: str, prepared: Prepared | None = None, settle: float = 0.0) -> Run:
    """bench/bare_window.py in `mode` (ready, iframe or click); see its docstring. The click
    comes `settle` seconds after the window is ready."""
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        port = free_port()
        env = clean_env(folder, port)
        command = [sys.executable, str(ROOT / "bench" / "bare_window.py"), str(folder), mode]
        if prepared is not None:
            command.append(prepared.blink_url)
        started = time.time()
        process = subprocess.Popen(
            command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            with _page(port, process) as cdp:
                ready: float | None = None
                clicked: float | None = None
                if mode != "iframe":
                    cdp.wait_for("document.documentElement.dataset.ready", 60, interval=POLL_S)
                    ready = time.time() - started
                if mode == "click":
                    time.sleep(settle)
                    clicked = _click(cdp, "#go")
                seen = started
                if prepared is not None:
                    seen = _list_visible(cdp, prepared.origin)
                cpu = cpu_seconds(process.pid)
                memory = peak_memory_mb(process.pid)
        finally:
            _stop(process)
    return Run(ready, seen - started, None if clicked is None else seen - clicked, memory, *cpu)


@contextmanager
def emulator() -> Iterator[Prepared]:
    """The baselines' emulator, in a process of its own, with a user and a client token."""
    from blink_desktop.basiq.client import BasiqClient
    from blink_desktop.basiq.keyholder import KeyHolder
    from blink_desktop.emulator import DEFAULT_API_KEY
    from blink_desktop.settings import Settings

    with tempfile.TemporaryDirectory() as name:
        env = clean_env(Path(name), free_port())
        process = subprocess.Popen(
            [sys.executable, "-m", "blink_desktop", "emulator", "--state", f"{name}/state.sqlite"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        try:
            assert process.stdout is not None
            url = process.stdout.readline().decode().strip()
            if not url.startswith("http"):
                raise SystemExit("the baselines' emulator did not start")
            # Its request log goes on to stdout; drain it so the emulator never blocks on it.
            output = process.stdout
            threading.Thread(target=lambda: output.read(), daemon=True).start()
            client = BasiqClient(url, version=Settings.model_fields["basiq_version"].default)
            holder = KeyHolder(client, DEFAULT_API_KEY)
            user = holder.basiq_user(PERSON)
            query = {"user_id": user, "access_token": holder.client_token(user), "iframe": "true"}
            yield Prepared(f"{url}/index.html?{urlencode(query)}", url)
        finally:
            _stop(process)


def prepare_data(folder: Path, checkout: Path = ROOT) -> Path:
    """A data folder where the app (of `checkout`) ran before: it knows the person and their
    Basiq user. Each checkout makes its own, as its store's schema may differ."""
    folder.mkdir(parents=True, exist_ok=True)
    env = clean_env(folder)
    script = (
        "from blink_desktop.settings import load_settings\n"
        "from blink_desktop.app.wiring import build\n"
        "app = build(load_settings())\n"
        "try:\n"
        f"    app.service.set_identifier({PERSON!r})\n"
        "finally:\n"
        "    app.close()\n"
    )
    subprocess.run([sys.executable, "-c", script], env=env, check=True, timeout=60, cwd=checkout)
    return folder / "data"

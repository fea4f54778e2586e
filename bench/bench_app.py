"""Figures for the desktop app, each beside a baseline measured in the same run.

    .venv/bin/python bench/bench_app.py [--messages 10000] [--runs 3] [--bundle dist/blink-desktop]

1. Bridge to durable commit: Bridge.receive() for each message, against a bare SQLite insert
   with the same durability (WAL, synchronous=FULL). Goal: p99 under 5 ms.
2. Process start to Blink's handshake committed in Python, against a bare pywebview window
   reporting its page to Python. Goal: at most 1.5 times the bare window.
3. The app's peak memory (the Python process and its QtWebEngine children).
4. The PyInstaller bundle (make bundle): its size, and figure 2 for the frozen binary, measured
   in the same runs as the source app. Skipped, with a line saying so, when there is no bundle.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from blink_desktop.app.bridge import Bridge  # noqa: E402
from blink_desktop.app.connect import ConnectService  # noqa: E402
from blink_desktop.app.store import Store  # noqa: E402
from blink_desktop.basiq.client import BasiqClient  # noqa: E402
from blink_desktop.basiq.keyholder import KeyHolder  # noqa: E402
from harness.cdp import CDP  # noqa: E402
from harness.ports import free_port  # noqa: E402


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))]


def messages(count: int) -> list[dict[str, str]]:
    out = []
    for n in range(count):
        kind = n % 3
        if kind == 0:
            body = {"event": "job", "payload": {"success": True, "data": {"id": f"job-{n}"}}}
        elif kind == 1:
            body = {"event": "connection", "payload": {"success": True, "data": {"id": f"c-{n}"}}}
        else:
            body = {"event": "handshake", "payload": {"success": True}}
        out.append({"origin": "http://127.0.0.1:1", "data": json.dumps(body)})
    return out


def bridge_latency(count: int, folder: Path) -> list[float]:
    store = Store(folder / "bench.sqlite")
    client = BasiqClient("http://127.0.0.1:9")
    service = ConnectService(
        KeyHolder(client, "unused"), client, store,
        blink_url="http://127.0.0.1:1/index.html", blink_origin="http://127.0.0.1:1",
    )  # fmt: skip
    bridge = Bridge(service, "token")
    timings = []
    for message in messages(count):
        started = time.perf_counter()
        reply = bridge.receive("token", message)
        timings.append((time.perf_counter() - started) * 1000)
        assert reply["accepted"], reply
    store.close()
    return timings


def sqlite_latency(count: int, folder: Path) -> list[float]:
    db = sqlite3.connect(folder / "bare.sqlite", isolation_level=None)
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = FULL")
    db.execute("CREATE TABLE events (seq INTEGER PRIMARY KEY, payload TEXT)")
    timings = []
    for message in messages(count):
        started = time.perf_counter()
        db.execute("BEGIN IMMEDIATE")
        db.execute("INSERT INTO events (payload) VALUES (?)", (message["data"],))
        db.execute("COMMIT")
        timings.append((time.perf_counter() - started) * 1000)
    db.close()
    return timings


def peak_memory_mb(pid: int) -> float:
    """Sum of each process's peak resident set (VmHWM) over the process and its descendants."""
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
    total = 0
    for member in family:
        try:
            for line in Path(f"/proc/{member}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total / 1024


def app_to_handshake(folder: Path, command: list[str]) -> tuple[float, float, float]:
    """(seconds to the window being ready, seconds to the handshake, peak memory in MB)."""
    port = free_port()
    env = {
        **os.environ,
        "QT_QPA_PLATFORM": "offscreen",
        "QTWEBENGINE_REMOTE_DEBUGGING": str(port),
        "BLINK_DESKTOP_DATA_DIR": str(folder / "data"),
        "BLINK_DESKTOP_LOG_DIR": str(folder / "logs"),
        "BLINK_DESKTOP_USER": "bench@example.com",
    }
    started = time.time()
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        cdp = CDP.connect(port, timeout=60, url_prefix="http://127.0.0.1")
        cdp.wait_for(
            "document.getElementById('connect') && !document.getElementById('connect').disabled", 60
        )
        ready = time.time() - started
        cdp.click("#connect")
        database = folder / "data" / "blink-desktop.sqlite"
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                db = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
                row = db.execute("SELECT received FROM events WHERE event = 'handshake'").fetchone()
                db.close()
            except sqlite3.Error:
                row = None
            if row:
                received = datetime.fromisoformat(row[0].replace("Z", "+00:00")).timestamp()
                cdp.close()
                return ready, received - started, peak_memory_mb(process.pid)
            time.sleep(0.02)
        raise TimeoutError("no handshake within 60 s")
    finally:
        process.terminate()
        process.wait(timeout=20)


def bare_window() -> float:
    started = time.time()
    with subprocess.Popen(
        [sys.executable, str(ROOT / "bench" / "bare_window.py"), str(started)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    ) as process:  # fmt: skip
        assert process.stdout is not None
        line = process.stdout.readline()  # the figure comes first; closing is not timed
        process.terminate()
        process.wait(timeout=20)
    return float(line)


def bundle_size_mb(bundle: Path) -> float:
    """Sum of the sizes of the bundle's files (symbolic links not followed), in MB."""
    files = (p for p in bundle.rglob("*") if p.is_file() and not p.is_symlink())
    return sum(p.stat().st_size for p in files) / 1e6


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--bundle", type=Path, default=ROOT / "dist" / "blink-desktop", help="the onedir bundle"
    )
    args = parser.parse_args()
    binary = args.bundle / ("blink-desktop.exe" if sys.platform == "win32" else "blink-desktop")
    with tempfile.TemporaryDirectory() as folder:
        bridge = bridge_latency(args.messages, Path(folder))
        bare = sqlite_latency(args.messages, Path(folder))
    print(f"bridge -> durable commit over {args.messages} messages (ms)")
    print(f"  {'':26}{'median':>8}{'p99':>8}")
    print(f"  {'Bridge.receive':26}{statistics.median(bridge):8.3f}{percentile(bridge, 0.99):8.3f}")
    print(f"  {'bare sqlite insert':26}{statistics.median(bare):8.3f}{percentile(bare, 0.99):8.3f}")
    commands = {"app": [sys.executable, "-m", "blink_desktop"]}
    if binary.is_file():
        commands["frozen"] = [str(binary)]
    ready: dict[str, list[float]] = {name: [] for name in commands}
    handshake: dict[str, list[float]] = {name: [] for name in commands}
    memory: dict[str, list[float]] = {name: [] for name in commands}
    bare_times = []
    for _ in range(args.runs):
        for name, command in commands.items():  # interleaved, so both see the same machine
            with tempfile.TemporaryDirectory() as folder:
                seconds_ready, seconds, peak = app_to_handshake(Path(folder), command)
            ready[name].append(seconds_ready)
            handshake[name].append(seconds)
            memory[name].append(peak)
        bare_times.append(bare_window())
    bare_median = statistics.median(bare_times)
    print(f"process start -> in Python, median of {args.runs} runs (s)")
    for name in commands:
        for label, values in (("Blink handshake", handshake[name]), ("window ready", ready[name])):
            median = statistics.median(values)
            print(f"  {name + ': ' + label:26}{median:8.2f}   ratio {median / bare_median:.2f}")
    print(f"  {'bare window: page loaded':26}{bare_median:8.2f}")
    print("  (goal: handshake at most 1.5 x the bare window; Blink itself waits 1 s to send it)")
    for name in commands:
        print(f"{name} peak memory, with its QtWebEngine processes: {max(memory[name]):.0f} MB")
    if "frozen" in commands:
        print(f"bundle size ({args.bundle}): {bundle_size_mb(args.bundle):.0f} MB (goal: 300 MB)")
    else:
        print(f"frozen binary: skipped, no bundle at {args.bundle} (build it with `make bundle`)")


if __name__ == "__main__":
    main()

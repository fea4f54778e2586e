"""Figures for the desktop app, each beside a baseline measured in the same run.

    .venv/bin/python bench/bench_app.py [--runs 5] [--messages 10000] [--no-bridge]
                                        [--bundle dist/blink-desktop] [--before CHECKOUT]

Bridge to durable commit: Bridge.receive() for each message, against a bare SQLite insert with
the same durability (WAL, synchronous=FULL). Goal: p99 under 5 ms.

Start-up, timed from outside over DevTools as bench/startup.py describes; medians of --runs
runs, the app and its baselines interleaved:
1. process start -> Blink's bank list visible (the bench clicks "Connect a bank" as soon as it
   is enabled), against a bare pywebview window whose page already holds Blink's iframe, with a
   user and token made beforehand. Goal: at most 1.2 times.
2. click on "Connect a bank" -> the bank list visible, both clicked 2 s after their window is
   ready (what a person who looks first feels), against a bare page that inserts that iframe
   on click. Goal: at most 1.1 times. The click as soon as Connect is enabled (figure 1's) is
   printed beside it.
3. process start -> window ready (Connect enabled), against a bare window whose page has made
   one bridge round trip. Goal: at most 1.2 times.
4. The same three for the PyInstaller bundle (make bundle), against the same baselines, with
   the bundle's size. Skipped, with a line saying so, when there is no bundle.
5. Peak memory of the app's processes (Python and QtWebEngine's), against the bare click page's
   once it shows Blink's list. Goal: at most 1.15 times.
Beside them, for figure 1, the CPU time the Python process and its QtWebEngine processes spent
until the list was seen: less sensitive to a loaded machine than the times, it says how much
of the difference is the app's own work and how much the engine's.
With --before, an earlier checkout (say a git worktree) is timed in the same runs, and its
bundle too when its dist/ has one, each on a data folder its own code made.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import startup  # noqa: E402
from startup import Run  # noqa: E402

from blink_desktop.app.bridge import Bridge  # noqa: E402
from blink_desktop.app.connect import ConnectService  # noqa: E402
from blink_desktop.app.store import Store  # noqa: E402
from blink_desktop.basiq.client import BasiqClient  # noqa: E402
from blink_desktop.basiq.keyholder import KeyHolder  # noqa: E402


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


def bundle_size_mb(bundle: Path) -> float:
    """Sum of the sizes of the bundle's files (symbolic links not followed), in MB."""
    files = (p for p in bundle.rglob("*") if p.is_file() and not p.is_symlink())
    return sum(p.stat().st_size for p in files) / 1e6


GOALS = {"listed": 1.2, "click": 1.1, "ready": 1.2, "memory": 1.15}
SETTLE_S = 2.0  # for figure 2, both click this long after their window is ready


@dataclass(frozen=True)
class Figure:
    label: str
    baseline: str
    app: str  # which of the app's runs, and which of the bare ones, it is read from
    bare: str
    field: str


FIGURES = {
    "listed": Figure(
        "process start -> Blink's bank list visible",
        "bare window, page holding Blink's iframe",
        "asap",
        "iframe",
        "listed",
    ),
    "click": Figure(
        f"click on Connect ({SETTLE_S:.0f} s after ready) -> bank list visible",
        "bare page inserting the iframe on click",
        "settled",
        "settled",
        "click",
    ),
    "ready": Figure(
        "process start -> window ready (Connect enabled)",
        "bare window, one bridge round trip",
        "asap",
        "ready",
        "ready",
    ),
}


REPEATED: list[str] = []  # the runs that timed out once, each said at the end


def again(run: Callable[..., Run], *args: Any) -> Run:
    """`run(*args)`, once more if it timed out (a page that never showed, on a loaded machine);
    the bench stops if it times out twice."""
    try:
        return run(*args)
    except TimeoutError as exc:
        REPEATED.append(f"{run.__name__}({str(args[0])[:60]}) ({str(exc).splitlines()[-1][-80:]})")
        return run(*args)


def median(runs: list[Run], field: str) -> float:
    values: list[float | None] = [getattr(run, field) for run in runs]
    return statistics.median(value for value in values if value is not None)


def verdict(ratio: float, goal: float) -> str:
    return f"= {ratio:.2f} x (goal <= {goal} x: {'met' if ratio <= goal else 'NOT met'})"


def print_startup(apps: dict[str, dict[str, list[Run]]], bare: dict[str, list[Run]]) -> None:
    runs = len(bare["ready"])
    print(f"start-up, median of {runs} runs (s), each against its baseline in the same runs")
    number = 0
    for name, kinds in apps.items():
        for key, figure in FIGURES.items():
            value = median(kinds[figure.app], figure.field)
            base = median(bare[figure.bare], figure.field)
            number += 1
            print(f"  {number}. {name}: {figure.label}")
            print(
                f"       {value:6.3f} vs {base:6.3f} {figure.baseline}  "
                f"{verdict(value / base, GOALS[key])}"
            )
        asap, bare_asap = median(kinds["asap"], "click"), median(bare["click"], "click")
        print(
            f"     {name}, clicked as soon as Connect is enabled: {asap:.3f} from the click to"
            f" the list (bare page clicked as soon as ready: {bare_asap:.3f})"
        )
    print("CPU time until Blink's list was seen (s, median): the Python process, its engine's")
    bare_cpu = [median(bare["iframe"], field) for field in ("cpu", "engine_cpu")]
    for name, kinds in apps.items():
        cpu = [median(kinds["asap"], field) for field in ("cpu", "engine_cpu")]
        print(
            f"  {name}: Python {cpu[0]:.2f} vs {bare_cpu[0]:.2f}, QtWebEngine {cpu[1]:.2f} vs"
            f" {bare_cpu[1]:.2f} (bare window, page holding Blink's iframe)"
        )
    bare_memory = max(run.memory for run in bare["settled"])
    print("peak memory, the process and its QtWebEngine children (MB, highest of the runs)")
    for name, kinds in apps.items():
        memory = max(run.memory for run in kinds["asap"] + kinds["settled"])
        print(
            f"  {name}: {memory:.0f} vs {bare_memory:.0f} bare page showing Blink's list  "
            f"{verdict(memory / bare_memory, GOALS['memory'])}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument(
        "--bundle", type=Path, default=ROOT / "dist" / "blink-desktop", help="the onedir bundle"
    )
    parser.add_argument("--no-bridge", action="store_true", help="start-up figures only")
    parser.add_argument(
        "--before",
        type=Path,
        metavar="CHECKOUT",
        help="also time `python -m blink_desktop` run from another checkout (e.g. a git worktree"
        " of an earlier commit), and its bundle if it has one in dist/, in the same runs",
    )
    args = parser.parse_args()
    binary = args.bundle / ("blink-desktop.exe" if sys.platform == "win32" else "blink-desktop")
    if not args.no_bridge:
        with tempfile.TemporaryDirectory() as folder:
            bridge = bridge_latency(args.messages, Path(folder))
            insert = sqlite_latency(args.messages, Path(folder))
        print(f"bridge -> durable commit over {args.messages} messages (ms)")
        print(f"  {'':26}{'median':>8}{'p99':>8}")
        print(
            f"  {'Bridge.receive':26}{statistics.median(bridge):8.3f}"
            f"{percentile(bridge, 0.99):8.3f}"
        )
        print(
            f"  {'bare sqlite insert':26}{statistics.median(insert):8.3f}"
            f"{percentile(insert, 0.99):8.3f}"
        )
    source = [sys.executable, "-m", "blink_desktop"]
    commands: dict[str, tuple[list[str], Path | None]] = {"app": (source, ROOT)}
    if args.before is not None:
        commands["before"] = (source, args.before.resolve())
    if binary.is_file():
        commands["frozen"] = ([str(binary)], None)
    before_binary = None if args.before is None else args.before / "dist" / binary.parent.name
    if before_binary is not None and (before_binary / binary.name).is_file():
        commands["frozen before"] = ([str(before_binary / binary.name)], None)
    data_of = {kind: ROOT if "before" not in kind else args.before.resolve() for kind in commands}
    apps: dict[str, dict[str, list[Run]]] = {name: {"asap": [], "settled": []} for name in commands}
    bare: dict[str, list[Run]] = {"ready": [], "iframe": [], "click": [], "settled": []}
    with tempfile.TemporaryDirectory() as name, startup.emulator() as prepared:
        # Each checkout's data folder for its source and its bundle: their stores may differ.
        templates = {
            checkout: startup.prepare_data(Path(name) / str(number), checkout)
            for number, checkout in enumerate(set(data_of.values()))
        }
        for _ in range(args.runs):  # interleaved, so every kind sees the same machine
            for kind, (command, cwd) in commands.items():
                template = templates[data_of[kind]]
                apps[kind]["asap"].append(again(startup.app_run, command, template, 0.0, cwd))
                apps[kind]["settled"].append(
                    again(startup.app_run, command, template, SETTLE_S, cwd)
                )
            bare["ready"].append(again(startup.bare_run, "ready"))
            bare["iframe"].append(again(startup.bare_run, "iframe", prepared))
            bare["click"].append(again(startup.bare_run, "click", prepared))
            bare["settled"].append(again(startup.bare_run, "click", prepared, SETTLE_S))
    print_startup(apps, bare)
    if REPEATED:
        print(f"repeated after a timeout: {', '.join(REPEATED)}")
    if "frozen" in commands:
        print(f"bundle size ({args.bundle}): {bundle_size_mb(args.bundle):.0f} MB (goal: 300 MB)")
    else:
        print(f"frozen binary: skipped, no bundle at {args.bundle} (build it with `make bundle`)")


if __name__ == "__main__":
    main()

"""Load on the reference server: simulated desktop apps against `serve` on PostgreSQL, with the
emulator as Basiq, for one worker, two workers, and two instances of two workers each.

    .venv/bin/python bench/server_load.py [--apps 32] [--sessions 600] [--seconds 60]

Each simulated app runs sessions as the desktop app does in backend mode: POST /user for its
person, POST /access_token for a client token bound to that user, then POST /connections for
a new connection, and every other time the same report again, to the other instance where
there are two (the outbox retrying after a lost answer). Three sessions in a row share each
person, so the three apps ask for a new person at once: the race the server must win.

Per scenario: requests per second, p50 and p99 latency over every request, answers that were
not 2xx, duplicate Basiq users (created at the emulator beyond one per person: must be 0) and
lost reports (acknowledged, but not in the database: must be 0).

Everything runs on this machine, on loopback: PostgreSQL from pgserver (as in the tests),
started and removed by the bench; the emulator and each gunicorn instance in processes of
their own. Each scenario stops at --sessions sessions or --seconds seconds, whichever is first.
"""

from __future__ import annotations

import argparse
import itertools
import os
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from harness.ports import free_port  # noqa: E402
from tests.server.database import Postgres  # noqa: E402

CLIENT = "bench-app"
API_KEY = "bench-api-key"
SCENARIOS = [("1 instance, 1 worker", 1, 1), ("1 instance, 2 workers", 1, 2)]
SCENARIOS += [("2 instances, 2 workers each", 2, 2)]


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))] if ordered else 0.0


def wait_until_healthy(url: str, process: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{url} exited with {process.returncode} before it served")
        try:
            if requests.get(f"{url}/health", timeout=2).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.1)  # polling a process that is starting: not part of any figure
    raise SystemExit(f"{url} did not answer /health within {timeout} s")


@contextmanager
def emulator(state: Path) -> Iterator[str]:
    """The emulator in a process of its own, with Basiq's /token rate limit lifted: the bench
    asks for more client tokens than 1,500 in 5 minutes."""
    code = (
        "import sys; from pathlib import Path; from blink_desktop.emulator import Emulator\n"
        f"e = Emulator(api_key={API_KEY!r}, state_path=Path(sys.argv[1]), "
        "token_rate_limit=10**9)\nprint(e.url, flush=True)\ne.serve_forever()"
    )
    command = [sys.executable, "-c", code, str(state)]
    with subprocess.Popen(command, stdout=subprocess.PIPE, cwd=ROOT) as process:
        assert process.stdout is not None
        url = process.stdout.readline().decode().strip()
        try:
            yield url
        finally:
            process.terminate()
            process.wait(timeout=30)


def basiq_users(state: Path) -> int:
    """Users at the emulator, read from its state file (WAL: readable while it runs)."""
    with sqlite3.connect(f"file:{state}?mode=ro", uri=True) as db:
        return int(db.execute("SELECT COUNT(*) FROM users").fetchone()[0])


@contextmanager
def instance(workers: int, env: dict[str, str]) -> Iterator[str]:
    """One `serve` instance as the README runs it in production: gunicorn, N workers."""
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "-c",
        "python:blink_desktop.server.gunicorn_config",
    ]
    command += ["--workers", str(workers), "--bind", f"127.0.0.1:{port}"]
    with subprocess.Popen(
        command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    ) as process:
        url = f"http://127.0.0.1:{port}"
        try:
            wait_until_healthy(url, process)
            yield url
        finally:
            process.terminate()
            process.wait(timeout=60)


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    failed: int = 0
    persons: set[str] = field(default_factory=set)
    acknowledged: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)


def session(number: int, urls: list[str], tag: str, http: requests.Session, tally: Tally) -> None:
    """One desktop app's visit: who am I, a token, a new connection (sometimes twice)."""
    here, there = urls[number % len(urls)], urls[(number + 1) % len(urls)]
    person = f"{tag}-person{number // 3}@bench.example"

    def post(url: str, path: str, body: dict[str, str]) -> requests.Response | None:
        started = time.perf_counter()
        try:
            reply = http.post(f"{url}{path}", json={**body, "client_id": CLIENT}, timeout=30)
        except requests.RequestException:
            reply = None
        took = time.perf_counter() - started
        with tally.lock:
            tally.latencies.append(took)
            if reply is None or not reply.ok:
                tally.failed += 1
        return reply if reply is not None and reply.ok else None

    user = post(here, "/user", {"email": person})
    if user is None:
        return
    user_id = str(user.json()["result"]["id"])
    with tally.lock:
        tally.persons.add(person)
    post(here, "/access_token", {"user_id": user_id})
    connection = f"{tag}-c{number}"
    sends = [here, there] if number % 2 else [here]
    for url in sends:
        if post(url, "/connections", {"user_id": user_id, "connection_id": connection}):
            with tally.lock:
                tally.acknowledged.add(connection)


def load(
    urls: list[str], tag: str, apps: int, sessions: int, seconds: float
) -> tuple[Tally, float]:
    tally = Tally()
    numbers = itertools.count()
    take = threading.Lock()
    deadline = time.monotonic() + seconds

    def app() -> None:
        with requests.Session() as http:
            while time.monotonic() < deadline:
                with take:
                    number = next(numbers)
                if number >= sessions:
                    return
                session(number, urls, tag, http, tally)

    started = time.perf_counter()
    with ThreadPoolExecutor(apps) as pool:
        for future in [pool.submit(app) for _ in range(apps)]:
            future.result()
    return tally, time.perf_counter() - started


def stored(database: str, tag: str) -> set[str]:
    with psycopg.connect(database) as conn:
        rows = conn.execute(
            "SELECT connection_id FROM reported_connections WHERE connection_id LIKE %s",
            (f"{tag}-%",),
        ).fetchall()
    return {str(row[0]) for row in rows}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--apps", type=int, default=32, help="simulated apps at once (32)")
    parser.add_argument("--sessions", type=int, default=600, help="per scenario, at most (600)")
    parser.add_argument("--seconds", type=float, default=60, help="per scenario, at most (60)")
    args = parser.parse_args()
    if not (1 <= args.apps <= 256 and 1 <= args.sessions <= 100_000 and 0 < args.seconds <= 600):
        parser.error("--apps 1-256, --sessions 1-100000, --seconds up to 600")

    print(f"{os.cpu_count()} cores; {args.apps} apps; at most {args.sessions} sessions or")
    print(f"{args.seconds:g} s per scenario. Every process on this machine, over loopback.\n")
    header = f"{'scenario':<30}{'requests':>9}{'req/s':>8}{'p50 ms':>8}{'p99 ms':>8}"
    print(header + f"{'not 2xx':>9}{'dup users':>10}{'lost':>6}")
    worst = 0
    with ExitStack() as stack:
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="blink-bench-")))
        postgres = Postgres()
        stack.callback(postgres.close)
        state = folder / "emulator.sqlite"
        upstream = stack.enter_context(emulator(state))
        for n, (name, instances, workers) in enumerate(SCENARIOS):
            database = postgres.new_schema()
            env = {k: v for k, v in os.environ.items() if not k.startswith("BLINK_DESKTOP_")}
            (folder / "config.toml").touch()
            env |= {
                "BLINK_DESKTOP_CONFIG": str(folder / "config.toml"),
                "BLINK_DESKTOP_DATA_DIR": str(folder / "data"),
                "BLINK_DESKTOP_LOG_DIR": str(folder / "logs"),
                "BLINK_DESKTOP_DATABASE_URL": database,
                "BLINK_DESKTOP_API_KEY": API_KEY,
                "BLINK_DESKTOP_API_URL": upstream,
                "BLINK_DESKTOP_CLIENT_IDS": CLIENT,
                "BLINK_DESKTOP_BASIQ_VERSION": "3.0",
            }
            with ExitStack() as servers:
                urls = [servers.enter_context(instance(workers, env)) for _ in range(instances)]
                before = basiq_users(state)
                tag = f"s{n}"
                tally, took = load(urls, tag, args.apps, args.sessions, args.seconds)
                duplicates = basiq_users(state) - before - len(tally.persons)
                lost = len(tally.acknowledged - stored(database, tag))
            count = len(tally.latencies)
            p50, p99 = (percentile(tally.latencies, share) * 1000 for share in (0.5, 0.99))
            print(
                f"{name:<30}{count:>9}{count / took:>8.0f}{p50:>8.1f}{p99:>8.1f}"
                f"{tally.failed:>9}{duplicates:>10}{lost:>6}",
                flush=True,
            )
            worst = max(worst, duplicates, lost)
    print("\nduplicate users and lost reports must be 0:", "yes" if worst == 0 else "NO")
    return 0 if worst == 0 else 1


if __name__ == "__main__":
    sys.exit(main())

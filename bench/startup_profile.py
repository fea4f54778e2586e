"""Where the app's start-up time goes: what it does beyond a bare window, step by step.

    .venv/bin/python bench/startup_profile.py [--runs 5]

Each step runs alone, in the order the app takes them, in a fresh Python process per run, and
the median is printed: the imports a bare pywebview window makes too (webview and Qt), then
what only the app does before Blink's list can show (its settings, its store, the keyring,
the connect service, the embedded emulator's import and start, the first client token).
Alone, a step costs this much CPU; in the app these steps share one interpreter lock with Qt's
own start (see app/launch.py), so their sum, not their maximum, is what the window waits for.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# One step per line: (label, whether a bare window does it too, code). Timed in one process.
STEPS: list[tuple[str, bool, str]] = [
    ("import webview and its Qt backend", True, "import webview, webview.platforms.qt"),
    ("import the app's command line and window", False, "import blink_desktop.app.window"),
    ("import the settings (pydantic, pydantic-settings, requests)", False,
     "import blink_desktop.settings"),
    ("read the settings", False, "s = blink_desktop.settings.load_settings()"),
    ("open the store", False,
     "from blink_desktop.app import wiring; store = wiring.open_store(s)"),
    ("ask the keyring for an API key", False,
     "from blink_desktop import upstream; upstream.configured_key(s)"),
    ("import the connect service", False, "import blink_desktop.app.connect"),
    ("import the emulator", False, "import blink_desktop.emulator.runner"),
    ("start the emulator", False,
     "up = upstream.emulator(s, s.data_dir / 'emulator.sqlite')"),
    ("build the app on them", False,
     "from blink_desktop.basiq.client import BasiqClient\n"
     "from blink_desktop.basiq.keyholder import KeyHolder\n"
     "holder = KeyHolder(BasiqClient(up.api_url), up.api_key)"),
    ("create the Basiq user (first run only)", False, "user = holder.basiq_user('a@b.co')"),
    ("fetch a client token", False, "holder.issue_client_token(user)"),
]  # fmt: skip

TIMER = """
import json, sys, time
timings = []
for code in json.loads(sys.argv[1]):
    before = time.perf_counter()
    exec(code, globals())
    timings.append(time.perf_counter() - before)
up.close()
print(json.dumps(timings))
"""


def one_run(folder: Path) -> list[float]:
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("BLINK_DESKTOP_") and not name.lower().endswith("_proxy")
    }
    config = folder / "config.toml"
    config.touch()
    env.update(
        QT_QPA_PLATFORM="offscreen",
        BLINK_DESKTOP_CONFIG=str(config),
        BLINK_DESKTOP_DATA_DIR=str(folder / "data"),
        BLINK_DESKTOP_LOG_DIR=str(folder / "logs"),
        PYTHONPATH=str(ROOT),
    )
    codes = json.dumps([code for _, _, code in STEPS])
    result = subprocess.run(
        [sys.executable, "-c", TIMER, codes],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    timings: list[float] = json.loads(result.stdout.strip().splitlines()[-1])
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    runs = []
    for _ in range(args.runs):
        with tempfile.TemporaryDirectory() as name:
            runs.append(one_run(Path(name)))
    medians = [statistics.median(column) for column in zip(*runs, strict=True)]
    print(f"start-up steps, each alone, median of {args.runs} runs (ms)")
    shared = only = 0.0
    for (label, bare_too, _), value in zip(STEPS, medians, strict=True):
        print(f"  {value * 1000:7.1f}  {label}{'  (a bare window too)' if bare_too else ''}")
        if bare_too:
            shared += value
        elif "first run" not in label:
            only += value
    print(f"  {shared * 1000:7.1f}  in all, that a bare window does too")
    print(f"  {only * 1000:7.1f}  in all, that only the app does (a known person)")


if __name__ == "__main__":
    main()

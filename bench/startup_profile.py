"""Where the app's start-up time goes: what it does beyond a bare window, step by step.

    .venv/bin/python bench/startup_profile.py [--runs 5]

The steps run one after the other in the order app/launch.py takes them, in a fresh Python
process per run, and each one's median is printed: the imports a bare pywebview window makes
too (webview and Qt), then what only the app does before Blink's list can show (its settings,
its store, the keyring, the connect service, the embedded emulator's import and start, the
first client token). The keyring is asked on a thread of its own while the connect service
imports, as in the app; each of the two is also timed alone, to show what the overlap saves.
In the app these steps share one interpreter lock with Qt's own start, so their sum, not their
maximum, is what the window waits for (bench/startup.py's CPU figures show it from outside).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from startup import clean_env, medians  # noqa: E402

# One step per line: (label, whether a bare window does it too, code). Timed in one process, in
# the order of app/launch.py.
STEPS: list[tuple[str, bool, str]] = [
    ("import webview and its Qt backend", True, "import webview, webview.platforms.qt"),
    ("import the app's command line and window", False,
     "import blink_desktop.cli, blink_desktop.app.window"),
    ("import the settings (pydantic, pydantic-settings)", False, "import blink_desktop.settings"),
    ("read the settings", False, "s = blink_desktop.settings.load_settings()"),
    ("open the store", False,
     "from blink_desktop.app import wiring; store = wiring.open_store(s)"),
    ("ask the keyring on its own thread; meanwhile import the connect service and the Basiq"
     " client (requests)", False,
     "from blink_desktop import upstream\n"
     "from blink_desktop.app.starting import Pending\n"
     "key = Pending.run('keyring', upstream.configured_key, s)\n"
     "import blink_desktop.app.connect, blink_desktop.basiq.keyholder\n"
     "key.result()"),
    ("import the rest of what the app is built of", False,
     "import blink_desktop.app.backend, blink_desktop.app.outbox, blink_desktop.app.manager"),
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
# What the keyring step overlaps, each timed alone after the steps before it.
BEFORE_KEYRING = 5
ALONE: list[tuple[str, str]] = [
    ("the keyring alone (asking it for an API key)",
     "from blink_desktop import keychain; keychain.api_key()"),
    ("the connect service and the Basiq client alone",
     "import blink_desktop.app.connect, blink_desktop.basiq.keyholder"),
]  # fmt: skip

TIMER = """
import json, sys, time
timings = []
for code in json.loads(sys.argv[1]):
    before = time.perf_counter()
    exec(code, globals())
    timings.append(time.perf_counter() - before)
if "up" in globals():
    up.close()
print(json.dumps(timings))
"""


def timed(codes: list[str]) -> list[float]:
    """Run `codes` one after the other in a fresh Python process; the seconds each took."""
    with tempfile.TemporaryDirectory() as name:
        env = clean_env(Path(name))
        env["PYTHONPATH"] = str(ROOT)
        result = subprocess.run(
            [sys.executable, "-c", TIMER, json.dumps(codes)],
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
    steps = medians(timed([code for _, _, code in STEPS]) for _ in range(args.runs))
    before = [code for _, _, code in STEPS[:BEFORE_KEYRING]]
    alone = [medians(timed([*before, code]) for _ in range(args.runs))[-1] for _, code in ALONE]
    print(f"start-up steps, in the app's order, median of {args.runs} runs (ms)")
    shared = only = 0.0
    for (label, bare_too, _), value in zip(STEPS, steps, strict=True):
        print(f"  {value * 1000:7.1f}  {label}{'  (a bare window too)' if bare_too else ''}")
        if bare_too:
            shared += value
        elif "first run" not in label:
            only += value
    print(f"  {shared * 1000:7.1f}  in all, that a bare window does too")
    print(f"  {only * 1000:7.1f}  in all, that only the app does (a known person)")
    print("what the keyring step overlaps, each alone after the steps before it (ms)")
    for (label, _), value in zip(ALONE, alone, strict=True):
        print(f"  {value * 1000:7.1f}  {label}")


if __name__ == "__main__":
    main()

"""Would the app start faster if its work ran in a second process? A measured answer.

    .venv/bin/python bench/split_start.py [--runs 5]

Figures 1 and 3 of bench/bench_app.py miss their goals because the app's own start-up work
(settings, store, emulator, first client token: about 0.8 s of CPU here) runs in the window's
process, one thread at a time under the interpreter lock. This bench times the best a second
process could do: a window that imports nothing of the app's, beside a child process started
first thing that does the app's work up to Blink's URL, with the app's own code, and then
serves as its emulator. Its page only enables Connect once the child answers, and inserts Blink
on click, so it is a floor for any such split, not an app: no first screen, no bridge checks.
It is timed the way bench/startup.py times the app, in the same runs as the app and as the bare
windows, and prints the figures the same way (medians; peak memory, the highest of the runs).
CPU is counted until Blink's list was seen: the window's own process, then its children's
(QtWebEngine's processes and, for the split, the child).

    python bench/split_start.py --window FOLDER   # the window (the bench starts it)
    python bench/split_start.py --child           # the child (the window starts it)
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

FRAME = "width:460px;height:720px;border:0;display:block;margin:0 auto"  # as bare_window.py
PAGE = """<!doctype html><meta charset=utf-8><body style=margin:0>
<span id=mode-badge>Emulator</span><button id=connect disabled>Connect a bank</button>
<div id=blink-host></div><script>
let url = null;
window.addEventListener("pywebviewready", () => window.pywebview.api.blink().then((answer) => {
  url = answer.url; document.getElementById("connect").disabled = false; }));
document.getElementById("connect").addEventListener("click", () => {
  const frame = document.createElement("iframe"); frame.style.cssText = FRAME; frame.src = url;
  document.getElementById("blink-host").appendChild(frame); });
</script>"""


def child() -> None:
    """The app's work up to Blink's URL, with its own modules, in the order launch.py takes
    them; then the emulator serves until the window closes this process's stdin."""
    from urllib.parse import urlencode

    from blink_desktop import upstream
    from blink_desktop.app import wiring
    from blink_desktop.basiq.client import BasiqClient
    from blink_desktop.basiq.keyholder import KeyHolder
    from blink_desktop.settings import load_settings

    settings = load_settings()
    store = wiring.open_store(settings)
    upstream.configured_key(settings)
    emulator = upstream.emulator(settings, settings.data_dir / wiring.EMULATOR_STATE)
    holder = KeyHolder(
        BasiqClient(emulator.api_url), emulator.api_key, known_users=store.basiq_user
    )
    user = holder.basiq_user(settings.user or store.last_identifier() or "")
    query = {"user_id": user, "access_token": holder.client_token(user), "iframe": "true"}
    print(json.dumps({"url": f"{emulator.blink_url}?{urlencode(query)}"}), flush=True)
    sys.stdin.read()
    emulator.close()


def window(folder: Path) -> None:
    started = subprocess.Popen(
        [sys.executable, __file__, "--child"], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    answer: dict[str, Any] = {}
    answered = threading.Event()

    def read() -> None:
        assert started.stdout is not None
        answer.update(json.loads(started.stdout.readline() or "{}"))
        answered.set()

    threading.Thread(target=read, daemon=True).start()
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    if os.geteuid() == 0:
        os.environ.setdefault("QTWEBENGINE_DISABLE_SANDBOX", "1")
    import webview

    class Api:
        def blink(self) -> dict[str, Any]:
            answered.wait(60)
            return answer

    page = folder / "split.html"
    page.write_text(PAGE.replace("FRAME", json.dumps(FRAME)), encoding="utf-8")
    webview.create_window("split", url=str(page), js_api=Api(), width=1040, height=760)
    try:
        webview.start(gui="qt")
    finally:
        started.kill()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--window", type=Path, metavar="FOLDER", help=argparse.SUPPRESS)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child()
    if args.window is not None:
        return window(args.window)

    import startup
    from bench_app import median

    kinds: dict[str, list[startup.Run]] = {"app": [], "split": [], "iframe": [], "ready": []}
    with tempfile.TemporaryDirectory() as name, startup.emulator() as prepared:
        template = startup.prepare_data(Path(name) / "template")
        scratch = Path(name) / "pages"
        scratch.mkdir()
        split = [sys.executable, __file__, "--window", str(scratch)]
        for _ in range(args.runs):
            kinds["app"].append(startup.app_run([sys.executable, "-m", "blink_desktop"], template))
            kinds["split"].append(startup.app_run(split, template))
            kinds["iframe"].append(startup.bare_run("iframe", prepared))
            kinds["ready"].append(startup.bare_run("ready"))
    listed, ready = median(kinds["iframe"], "listed"), median(kinds["ready"], "ready")
    peak = max(run.memory for run in kinds["iframe"])

    def row(label: str, runs: list[startup.Run], ratios: bool = True) -> str:
        value, at = median(runs, "listed"), median(runs, "ready" if ratios else "listed")
        cpu = f"{median(runs, 'cpu'):.2f} / {median(runs, 'engine_cpu'):.2f}"
        memory = max(run.memory for run in runs)
        if not ratios:
            return f"  {label:30}{value:6.3f}{'':7}{ready:6.3f}{'':7}{cpu:>13}{memory:6.0f}"
        return (
            f"  {label:30}{value:6.3f} {value / listed:4.2f}x {at:6.3f} {at / ready:4.2f}x"
            f"{cpu:>13}{memory:6.0f} {memory / peak:4.2f}x"
        )

    print(f"median of {args.runs} runs (s); memory: MB, the highest of the runs")
    print(f"  {'':30}{'start->list':>12} {'start->ready':>12}{'CPU: own / kids':>16}{'memory':>7}")
    print(row("the app", kinds["app"]))
    print(row("its work in a second process", kinds["split"]))
    print(row("bare windows (baselines)", kinds["iframe"], ratios=False))


if __name__ == "__main__":
    main()

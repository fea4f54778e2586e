"""Open one pywebview Qt window on a URL, offscreen, for tests to drive over DevTools.

    python -m harness.window URL [--scheme-log FILE] [--width W --height H]

Set QTWEBENGINE_REMOTE_DEBUGGING=<port> in the environment to open the DevTools endpoint.
With --scheme-log, every basiq:// navigation the page makes is appended to FILE as one JSON
string per line. SIGTERM closes the window and exits with status 0.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness.window", description=__doc__)
    parser.add_argument("url")
    parser.add_argument("--scheme-log", type=Path, help="append each basiq:// URL here")
    parser.add_argument("--width", type=int, default=420)
    parser.add_argument("--height", type=int, default=680)
    parser.add_argument("--title", default="Blink (emulated)")
    args = parser.parse_args(argv)

    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    if os.geteuid() == 0:
        # QtWebEngine refuses to start as root with its sandbox on.
        os.environ.setdefault("QTWEBENGINE_DISABLE_SANDBOX", "1")

    import webview

    window = webview.create_window(args.title, args.url, width=args.width, height=args.height)
    assert window is not None

    if args.scheme_log is not None:
        from blink_desktop.app import navigation

        log_path: Path = args.scheme_log

        def record(url: str) -> None:
            with log_path.open("a", encoding="utf-8") as fh:
                fh.write(json.dumps(url) + "\n")

        navigation.install(window, record)

    keep: list[Any] = []

    def before_show() -> None:
        from qtpy.QtCore import QTimer

        # Python signal handlers run only when the main thread executes Python code; Qt's event
        # loop would otherwise hold SIGTERM back until the next GUI callback.
        timer = QTimer()
        timer.timeout.connect(lambda: None)
        timer.start(100)
        keep.append(timer)

    window.events.before_show += before_show

    def on_sigterm(_signum: int, _frame: object) -> None:
        # window.destroy() waits for the window to be shown; never block the GUI thread on it.
        threading.Thread(target=window.destroy, daemon=True).start()

    signal.signal(signal.SIGTERM, on_sigterm)
    signal.signal(signal.SIGINT, on_sigterm)
    webview.start(gui="qt")
    return 0


if __name__ == "__main__":
    sys.exit(main())

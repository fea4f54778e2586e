"""Baseline for the start-up figure: a bare pywebview window that reports its page to Python."""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

STARTED = float(sys.argv[1]) if len(sys.argv) > 1 else time.time()
PAGE = Path(tempfile.gettempdir()) / "blink-desktop-bench-bare.html"


class Api:
    def loaded(self) -> None:
        print(f"{time.time() - STARTED:.3f}", flush=True)
        window.destroy()


os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
if os.geteuid() == 0:
    os.environ.setdefault("QTWEBENGINE_DISABLE_SANDBOX", "1")
PAGE.write_text(
    "<!doctype html><p>bare</p><script>"
    "window.addEventListener('pywebviewready', () => pywebview.api.loaded())</script>"
)
import webview  # noqa: E402

window: Any = webview.create_window("bare", url=str(PAGE), js_api=Api())
webview.start(gui="qt")

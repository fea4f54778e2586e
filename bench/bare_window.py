"""Baselines for the start-up figures: bare pywebview windows with nothing of the app's in them.

    python bench/bare_window.py FOLDER ready        # a page that makes one bridge round trip
    python bench/bare_window.py FOLDER iframe URL   # a page that already holds Blink's iframe
    python bench/bare_window.py FOLDER click URL    # the ready page, plus a button (#go) that
                                                    # inserts Blink's iframe when clicked

The page is written to FOLDER, which the caller removes.

Each page sets `data-ready` on <html> once its bridge call is answered, so the bench times a
bare window's "ready" the way it times the app's: from outside, over DevTools
(QTWEBENGINE_REMOTE_DEBUGGING). The iframe is the size of the app's connect panel, in a window
the app's size, and the page is served the way the app's is (pywebview's own HTTP server).
SIGTERM ends the process.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

WIDTH, HEIGHT = 1040, 760  # the app's window
FRAME = "width:460px;height:720px;border:0;display:block;margin:0 auto"  # its panel

READY = """<script>
window.addEventListener("pywebviewready", () =>
  window.pywebview.api.ready().then(() => { document.documentElement.dataset.ready = "1"; }));
</script>"""


class Api:
    def ready(self) -> dict[str, bool]:
        return {"ok": True}


def page(mode: str, url: str) -> str:
    src = json.dumps(url)
    if mode == "ready":
        return f"<!doctype html><meta charset=utf-8><p>bare</p>{READY}"
    if mode == "iframe":
        return (
            f"<!doctype html><meta charset=utf-8><body style=margin:0>"
            f'<iframe style="{FRAME}" src={src}></iframe>{READY}'
        )
    if mode == "click":
        return (
            f"<!doctype html><meta charset=utf-8><body style=margin:0>"
            f'<button id="go" type="button">Connect a bank</button><div id="host"></div>'
            f"<script>document.getElementById('go').addEventListener('click', () => {{"
            f"const frame = document.createElement('iframe'); frame.style.cssText = "
            f"{json.dumps(FRAME)}; frame.src = {src};"
            f"document.getElementById('host').appendChild(frame); }});</script>{READY}"
        )
    raise SystemExit(f"unknown mode {mode!r}: ready, iframe or click")


def main() -> None:
    folder, mode, url = Path(sys.argv[1]), sys.argv[2], (sys.argv[3:] or [""])[0]
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    if os.geteuid() == 0:
        os.environ.setdefault("QTWEBENGINE_DISABLE_SANDBOX", "1")
    html = folder / f"{mode}.html"
    html.write_text(page(mode, url), encoding="utf-8")
    import webview

    window: Any = webview.create_window(
        "bare", url=str(html), js_api=Api(), width=WIDTH, height=HEIGHT
    )
    assert window is not None
    webview.start(gui="qt")


if __name__ == "__main__":
    main()

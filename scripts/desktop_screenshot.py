"""The README's screenshots of the desktop app: connect Hooli, capture the list, then its page.

.venv/bin/python scripts/desktop_screenshot.py [--out docs/screenshots/desktop.png]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from harness.cdp import CDP  # noqa: E402
from harness.ports import free_port  # noqa: E402

ITEM = "document.querySelector('#connections .item')"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots" / "desktop.png")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        port = free_port()
        env = {
            **os.environ,
            "QT_QPA_PLATFORM": "offscreen",
            "QTWEBENGINE_REMOTE_DEBUGGING": str(port),
            "BLINK_DESKTOP_DATA_DIR": f"{folder}/data",
            "BLINK_DESKTOP_LOG_DIR": f"{folder}/logs",
            "BLINK_DESKTOP_USER": "gavin@hooli.com",
            "BLINK_DESKTOP_EMULATOR_JOB_SPEED": "10",
        }
        app = subprocess.Popen([sys.executable, "-m", "blink_desktop"], env=env)
        try:
            with CDP.connect(port, timeout=60, url_prefix="http://127.0.0.1") as page:
                page.wait_for("!document.getElementById('connect').disabled", 30)
                page.click("#connect")
                page.wait_for("document.querySelector('#blink-host iframe') !== null", 20)
                origin = page.evaluate(
                    "new URL(document.querySelector('#blink-host iframe').src).origin"
                )
                blink = page.frame(origin + "/", 20)
                blink.wait_for(
                    "document.getElementById('title').textContent === 'Select your bank'", 20
                )
                blink.click('[data-institution-id="AU00000"]')
                blink.wait_visible("#loginId", 10)
                blink.type("#loginId", "gavinBelson")
                blink.type("#password", "hooli2016")
                blink.click("#connect")
                blink.wait_visible("#done", 20)
                blink.click("#done")
                page.wait_for(f"{ITEM} && {ITEM}.dataset.status === 'active'", 30)
                page.wait_for("[...document.images].every(image => image.complete)", 10)
                args.out.parent.mkdir(parents=True, exist_ok=True)
                print(page.screenshot(args.out))
                # Its page, whole: accounts, both charts and the first transactions.
                page.click("#connections .item-open")
                page.wait_for("document.querySelector('#tx-rows .tx-row') !== null", 20)
                page.wait_for(
                    "document.getElementById('connection-page').dataset.updated === 'true'"
                    " && !!window.Chart"
                    " && !!Chart.getChart(document.getElementById('chart-spending'))",
                    20,
                )
                height = page.evaluate("document.documentElement.scrollHeight")
                page.send(
                    "Emulation.setDeviceMetricsOverride",
                    {"width": 1040, "height": height, "deviceScaleFactor": 1, "mobile": False},
                )
                page.wait_for("document.querySelectorAll('#tx-rows .tx-row').length > 0", 5)
                print(page.screenshot(args.out.with_name("connection.png")))
        finally:
            app.terminate()
            app.wait(timeout=20)


if __name__ == "__main__":
    main()

"""Screenshots of the emulated Blink page for the README, taken from a real Qt window.

    .venv/bin/python scripts/screenshots.py [--out docs/screenshots]

Starts the emulator in-process, opens Blink in an offscreen pywebview window (the same
``harness.window`` process the GUI tests use), drives it over the DevTools protocol to each
screen and saves institutions.png, login.png, connecting.png, success.png and failure.png.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlencode

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from blink_desktop.emulator import Emulator  # noqa: E402
from harness.cdp import CDP  # noqa: E402
from harness.ports import free_port  # noqa: E402

WIDTH, HEIGHT = 420, 680
SETTLED = """(() => {
    const images = [...document.images].filter(img => img.getClientRects().length);
    const moving = document.getAnimations().filter(a => {
        const timing = a.effect && a.effect.getComputedTiming();
        return a.playState === "running" && timing && timing.iterations !== Infinity;
    });
    return images.every(img => img.complete) && moving.length === 0;
})()"""


def client_session(emulator: Emulator) -> tuple[str, str]:
    """A user and a CLIENT_ACCESS token, as a host's server would prepare them."""
    with requests.Session() as http:

        def token(scope: str) -> str:
            response = http.post(
                f"{emulator.url}/token",
                headers={"Authorization": f"Basic {emulator.api_key}", "basiq-version": "2.0"},
                data={"scope": scope},
                timeout=10,
            )
            response.raise_for_status()
            access_token: str = response.json()["access_token"]
            return access_token

        response = http.post(
            f"{emulator.url}/users",
            headers={"Authorization": f"Bearer {token('SERVER_ACCESS')}"},
            json={"email": "screenshots@example.com"},
            timeout=10,
        )
        response.raise_for_status()
        return response.json()["id"], token("CLIENT_ACCESS")


def shoot(page: CDP, out: Path, name: str) -> None:
    page.wait_for(SETTLED, 10)
    path = page.screenshot(out / f"{name}.png")
    print(f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")


def drive(page: CDP, out: Path) -> None:
    title = "document.getElementById('title').textContent === {!r}".format
    page.wait_for(title("Select your bank"), 15)
    shoot(page, out, "institutions")

    page.click('[data-institution-id="AU00000"]')
    page.wait_for(title("Login"), 5)
    page.type("#loginId", "gavinBelson")
    page.type("#password", "hooli2016")
    page.evaluate("document.activeElement.blur()")
    shoot(page, out, "login")

    page.click("#connect")
    page.wait_for(title("Connecting…"), 5)
    shoot(page, out, "connecting")
    page.wait_for(title("Success"), 15)
    page.evaluate("document.activeElement.blur()")
    shoot(page, out, "success")

    page.evaluate("location.reload()")
    page.wait_for(title("Select your bank"), 15)
    page.click('[data-institution-id="AU00000"]')
    page.wait_for(title("Login"), 5)
    page.type("#loginId", "bighead")
    page.type("#password", "password")
    page.click("#connect")
    page.wait_for(title("Unsuccessful"), 15)
    page.evaluate("document.activeElement.blur()")
    shoot(page, out, "failure")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    args = parser.parse_args(argv)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)

    with Emulator() as emulator:
        user_id, token = client_session(emulator)
        # iframe=true on a top-level page posts its events to itself: nothing leaves the page.
        query = urlencode({"iframe": "true", "user_id": user_id, "access_token": token})
        url = f"{emulator.url}/index.html?{query}"
        port = free_port()
        env = {**os.environ, "QTWEBENGINE_REMOTE_DEBUGGING": str(port)}
        command = [sys.executable, "-m", "harness.window", url]
        command += ["--width", str(WIDTH), "--height", str(HEIGHT)]
        window = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            alive = lambda: window.poll() is None  # noqa: E731
            with CDP.connect(port, url_prefix=emulator.url, alive=alive) as page:
                page.send(
                    "Emulation.setDeviceMetricsOverride",
                    {"width": WIDTH, "height": HEIGHT, "deviceScaleFactor": 2, "mobile": False},
                )
                drive(page, out)
        finally:
            window.send_signal(signal.SIGTERM)
            try:
                window.wait(15)
            except subprocess.TimeoutExpired:
                window.kill()
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""A small Chrome DevTools Protocol client for driving a QtWebEngine window like a user.

QtWebEngine opens the endpoint when the app runs with QTWEBENGINE_REMOTE_DEBUGGING=<port>.
Cross-origin iframes are not targets of their own there: they are child frames of the page,
reached through an isolated world (same DOM as the frame's scripts, separate JS globals).
"""

from __future__ import annotations

import base64
import itertools
import json
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import websocket

__all__ = ["CDP", "CDPError", "Frame"]


class CDPError(RuntimeError):
    """A DevTools command failed, or a script threw."""


def _js(value: Any) -> str:
    return json.dumps(value)


class _Context:
    """Evaluation helpers shared by the page's main world and a frame's isolated world."""

    cdp: CDP

    def _context_id(self) -> int | None:
        raise NotImplementedError

    def _reset(self) -> None:
        """Forget a cached execution context (the frame navigated)."""

    def evaluate(self, expression: str, *, await_promise: bool = False) -> Any:
        params: dict[str, Any] = {
            "expression": expression,
            "returnByValue": True,
            "awaitPromise": await_promise,
        }
        for attempt in range(2):
            context_id = self._context_id()
            if context_id is not None:
                params["contextId"] = context_id
            try:
                result = self.cdp.send("Runtime.evaluate", params)
            except CDPError as exc:
                if attempt == 0 and "context" in str(exc).lower():
                    self._reset()
                    continue
                raise
            break
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            message = details.get("exception", {}).get("description") or details.get("text")
            raise CDPError(f"{message}\n  in: {expression[:300]}")
        return result["result"].get("value")

    def wait_for(self, condition: str, timeout: float = 10.0, *, interval: float = 0.05) -> Any:
        """Poll a JS expression until it is truthy; return its value or raise TimeoutError."""
        deadline = time.monotonic() + timeout
        last: Any = None
        while True:
            try:
                last = self.evaluate(condition)
            except CDPError as exc:
                last = f"<{str(exc).splitlines()[0]}>"
            else:
                if last:
                    return last
            if time.monotonic() >= deadline:
                raise TimeoutError(
                    f"{condition!r} still not true after {timeout}s (last: {last!r};"
                    f" {self._where()})"
                )
            time.sleep(interval)

    def _where(self) -> str:
        """Which document a wait gave up on, for its message: a page that never loaded (an
        error page, about:blank) reads differently from one that loaded and stayed unchanged."""
        try:
            shown = self.evaluate("[location.href, document.readyState, document.title]")
        except Exception as exc:  # whatever it is, the wait's own message must still be raised
            return f"the document could not be read: {(str(exc) or repr(exc)).splitlines()[0]}"
        return f"document {shown[0][:200]!r}, {shown[1]}, title {shown[2][:80]!r}"

    def element_center(self, selector: str) -> tuple[float, float]:
        """Scroll an element into view and wait until it stops moving; return its centre.

        A page that draws the element anew meanwhile (a list re-rendered) detaches the one
        found: the selector is then looked up again, as a person's eye finds the new one."""
        box = self.evaluate(
            f"""(async () => {{
                const frame = () => new Promise(done => requestAnimationFrame(() => done()));
                let el = null, r = null;
                for (let tries = 0; tries < 10 && !(el && el.isConnected); tries++) {{
                    el = document.querySelector({_js(selector)});
                    if (!el) return null;
                    el.scrollIntoView({{block: "center", inline: "center"}});
                    let last = "";
                    for (let i = 0; i < 60 && el.isConnected; i++) {{
                        await frame();
                        r = el.getBoundingClientRect();
                        const now = [r.left, r.top, r.width, r.height].join();
                        if (now === last) break;
                        last = now;
                    }}
                }}
                r = el.getBoundingClientRect();
                const x = r.left + r.width / 2, y = r.top + r.height / 2;
                const top = document.elementFromPoint(x, y);
                const hit = !!top && (top === el || el.contains(top));
                return {{x, y, w: r.width, h: r.height, hit}};
            }})()""",
            await_promise=True,
        )
        if box is None:
            raise CDPError(f"no element matches {selector!r}")
        if not box["w"] or not box["h"]:
            raise CDPError(f"{selector!r} is not visible")
        if not box["hit"]:
            raise CDPError(f"{selector!r} is covered by another element")
        return box["x"], box["y"]

    def _offset(self) -> tuple[float, float]:
        return 0.0, 0.0

    def click(self, selector: str, timeout: float = 5.0) -> None:
        """Click an element with real mouse events, as a person would.

        Chromium discards clicks into a cross-origin iframe that appeared or moved in the last
        few hundred milliseconds, so the click is repeated until a mousedown reaches the
        document (a discarded click never does, so nothing is clicked twice).
        """
        presses = (
            "(() => { if (!window.__cdpPresses) { window.__cdpPresses = {n: 0};"
            " document.addEventListener('mousedown', () => window.__cdpPresses.n++, true); }"
            " return window.__cdpPresses.n; })()"
        )
        before = self.evaluate(presses)
        deadline = time.monotonic() + timeout
        while True:
            x, y = self.element_center(selector)
            dx, dy = self._offset()
            self.cdp.mouse_click(x + dx, y + dy)
            try:
                self.wait_for(f"{presses} > {before}", 0.25, interval=0.02)
                return
            except TimeoutError:
                if self._gone():
                    return  # the click closed this frame (Done, Close): it landed
                if time.monotonic() >= deadline:
                    raise TimeoutError(f"clicks on {selector!r} never reached the page") from None

    def _gone(self) -> bool:
        try:
            self.evaluate("1")
        except CDPError:
            return True
        return False

    def type(self, selector: str, text: str) -> None:
        """Click into a field, select what is there, and type text with real key input.

        Keys go to the page's focused frame. A field can be its document's active element
        while another frame holds the focus (a click discarded on its way into an iframe), and
        then the keys land elsewhere: the field is checked, and typed into again once, as a
        person would who saw it still empty."""
        field = f"document.querySelector({_js(selector)})"
        for attempt in range(2):
            self.click(selector)
            self.wait_for(f"document.activeElement === {field} && document.hasFocus()", 5)
            self.evaluate("document.activeElement.select && document.activeElement.select()")
            if text:
                self.cdp.send("Input.insertText", {"text": text})
            else:
                self.cdp.press("Backspace")
            try:
                self.wait_for(f"!('value' in {field}) || {field}.value === {_js(text)}", 2)
                return
            except TimeoutError:
                if attempt:
                    raise

    def text(self, selector: str) -> str | None:
        text: str | None = self.evaluate(
            f"(el => el ? el.innerText.trim() : null)(document.querySelector({_js(selector)}))"
        )
        return text

    def visible(self, selector: str) -> bool:
        return bool(
            self.evaluate(
                f"(el => !!el && el.getClientRects().length > 0)"
                f"(document.querySelector({_js(selector)}))"
            )
        )

    def wait_visible(self, selector: str, timeout: float = 10.0) -> None:
        self.wait_for(
            f"(el => !!el && el.getClientRects().length > 0)"
            f"(document.querySelector({_js(selector)}))",
            timeout,
        )


class Frame(_Context):
    """A child frame (e.g. a cross-origin iframe), driven through an isolated world."""

    def __init__(self, cdp: CDP, url_prefix: str) -> None:
        self.cdp = cdp
        self.url_prefix = url_prefix
        self._frame_id: str | None = None
        self._world: int | None = None

    def _context_id(self) -> int | None:
        if self._world is None:
            # Keep to the same iframe once found (its id survives navigations), even if
            # another frame with a matching URL appears later.
            frame_id = self._frame_id or self.cdp.find_frame(self.url_prefix)
            if frame_id is None:
                raise CDPError(f"no frame whose URL starts with {self.url_prefix!r}")
            try:
                created = self.cdp.send(
                    "Page.createIsolatedWorld", {"frameId": frame_id, "worldName": "cdp-driver"}
                )
            except CDPError:
                self._frame_id = None  # the iframe itself is gone
                raise
            self._frame_id, self._world = frame_id, created["executionContextId"]
        return self._world

    def _reset(self) -> None:
        self._world = None

    def _offset(self) -> tuple[float, float]:
        self._context_id()
        owner = self.cdp.send("DOM.getFrameOwner", {"frameId": self._frame_id})
        quad = self.cdp.send("DOM.getBoxModel", {"backendNodeId": owner["backendNodeId"]})
        content = quad["model"]["content"]
        return content[0], content[1]


class CDP(_Context):
    """One page target's DevTools websocket. Events are kept in ``self.events``."""

    def __init__(self, ws_url: str, *, timeout: float = 15.0) -> None:
        self.cdp = self
        self.timeout = timeout
        self.ws = websocket.create_connection(ws_url, timeout=timeout, suppress_origin=True)
        self.events: list[dict[str, Any]] = []
        self._ids = itertools.count(1)
        try:
            self.send("Page.enable")
            self.send("DOM.enable")
        except BaseException:
            self.ws.close()
            raise

    @classmethod
    def connect(
        cls,
        port: int,
        *,
        timeout: float = 30.0,
        url_prefix: str = "",
        alive: Callable[[], bool] = lambda: True,
    ) -> CDP:
        """Wait for a page target on 127.0.0.1:port (whose URL starts with url_prefix)."""
        deadline = time.monotonic() + timeout
        last: object = None
        while time.monotonic() < deadline:
            if not alive():
                raise CDPError(f"the browser process exited before DevTools answered ({last})")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=2) as r:
                    targets = json.load(r)
            except OSError as exc:
                last = exc
            else:
                for target in targets:
                    if target.get("type") == "page" and target.get("url", "").startswith(
                        url_prefix
                    ):
                        return cls(target["webSocketDebuggerUrl"])
                last = [t.get("url") for t in targets]
            time.sleep(0.1)
        raise TimeoutError(f"no DevTools page target on port {port} within {timeout}s ({last})")

    def close(self) -> None:
        self.ws.close()

    def __enter__(self) -> CDP:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _context_id(self) -> int | None:
        return None

    def send(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        message_id = next(self._ids)
        self.ws.send(json.dumps({"id": message_id, "method": method, "params": params or {}}))
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            message = json.loads(self.ws.recv())
            if message.get("id") == message_id:
                if "error" in message:
                    raise CDPError(f"{method}: {message['error'].get('message')}")
                result: dict[str, Any] = message.get("result", {})
                return result
            if "method" in message:
                self.events.append(message)
        raise TimeoutError(f"no answer to {method} within {self.timeout}s")

    def find_frame(self, url_prefix: str) -> str | None:
        """The id of the first child frame (depth first) whose URL starts with url_prefix."""
        stack = list(self.send("Page.getFrameTree")["frameTree"].get("childFrames", []))
        while stack:
            node = stack.pop(0)
            if node["frame"]["url"].startswith(url_prefix):
                frame_id: str = node["frame"]["id"]
                return frame_id
            stack[:0] = node.get("childFrames", [])
        return None

    def frame(self, url_prefix: str, timeout: float = 10.0) -> Frame:
        """Wait for a child frame whose URL starts with url_prefix and its document to load."""
        deadline = time.monotonic() + timeout
        while self.find_frame(url_prefix) is None:
            if time.monotonic() >= deadline:
                raise TimeoutError(f"no frame starting with {url_prefix!r} within {timeout}s")
            time.sleep(0.05)
        frame = Frame(self, url_prefix)
        frame.wait_for("document.readyState === 'complete'", max(deadline - time.monotonic(), 1))
        return frame

    def mouse_click(self, x: float, y: float) -> None:
        base = {"x": x, "y": y, "button": "left", "clickCount": 1}
        self.send("Input.dispatchMouseEvent", {"type": "mouseMoved", "x": x, "y": y})
        self.send("Input.dispatchMouseEvent", {"type": "mousePressed", **base})
        self.send("Input.dispatchMouseEvent", {"type": "mouseReleased", **base})

    _KEYS = {
        "Enter": {"code": "Enter", "windowsVirtualKeyCode": 13, "text": "\r"},
        "Escape": {"code": "Escape", "windowsVirtualKeyCode": 27},
        "Tab": {"code": "Tab", "windowsVirtualKeyCode": 9},
        "Backspace": {"code": "Backspace", "windowsVirtualKeyCode": 8},
        "Space": {"code": "Space", "windowsVirtualKeyCode": 32, "text": " "},
    }

    def press(self, key: str, *, shift: bool = False) -> None:
        """Press and release one key (Enter, Escape, Tab, Backspace, Space)."""
        spec = dict(self._KEYS[key])
        text = spec.pop("text", None)
        modifiers = 8 if shift else 0
        name = " " if key == "Space" else key
        down: dict[str, Any] = {"type": "keyDown", "key": name, "modifiers": modifiers, **spec}
        if text is not None:
            down["text"] = text
        self.send("Input.dispatchKeyEvent", down)
        self.send(
            "Input.dispatchKeyEvent", {"type": "keyUp", "key": name, "modifiers": modifiers, **spec}
        )

    def screenshot(self, path: str | Path) -> Path:
        data = self.send("Page.captureScreenshot", {"format": "png"})["data"]
        target = Path(path)
        target.write_bytes(base64.b64decode(data))
        return target

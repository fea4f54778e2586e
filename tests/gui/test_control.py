"""The JS control (assets/control) in a real engine, on a page from another origin than Blink's.

Host pages come from a throwaway server on 127.0.0.1:0 and load the control from the emulator
(``<emulator>/control/...``), so both the control and Blink are cross-origin to the page. Each
test is one window process driven over the DevTools protocol; Blink is driven like a person.
"""

from __future__ import annotations

import importlib.util
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import bottle
import pytest

from blink_desktop.emulator import Emulator
from tests.conftest import Api, serving, step
from harness.cdp import CDP, CDPError
from tests.gui.conftest import BlinkRun, Customer, Window

HOOLI = "AU00000"
CONTROL_DIR = Path(__file__).resolve().parents[2] / "assets" / "control"

# Installed before the control loads: live listeners on window and document, console.error
# calls, and every message the page gets (the page's own listener, to know what was delivered).
INSTRUMENT = """<script>
(function () {
  var live = [], serial = 0;
  var add = EventTarget.prototype.addEventListener;
  var remove = EventTarget.prototype.removeEventListener;
  function capture(options) {
    return typeof options === "boolean" ? options : !!(options && options.capture);
  }
  function name(target) {
    return target === window ? "window" : target === document ? "document" : null;
  }
  EventTarget.prototype.addEventListener = function (type, fn, options) {
    var target = name(this);
    if (target) {
      var known = live.some(function (l) {
        return l.target === target && l.type === type && l.fn === fn
          && l.capture === capture(options);
      });
      if (!known) {
        live.push({id: ++serial, target: target, type: type, fn: fn, capture: capture(options)});
      }
    }
    return add.apply(this, arguments);
  };
  EventTarget.prototype.removeEventListener = function (type, fn, options) {
    var target = name(this);
    for (var i = 0; target && i < live.length; i++) {
      var l = live[i];
      if (l.target === target && l.type === type && l.fn === fn && l.capture === capture(options)) {
        live.splice(i, 1);
        break;
      }
    }
    return remove.apply(this, arguments);
  };
  function describe(l) {
    return {id: l.id, what: l.target + ":" + l.type};
  }
  // What fn added to and removed from the listeners on window and document. It runs
  // synchronously, so nothing else can add or remove one meanwhile.
  window.during = function (fn) {
    var before = live.slice();
    fn();
    return {
      added: live.filter(function (l) { return before.indexOf(l) < 0; }).map(describe),
      removed: before.filter(function (l) { return live.indexOf(l) < 0; }).map(describe)
    };
  };
  window.stillLive = function (ids) {
    return live.filter(function (l) { return ids.indexOf(l.id) >= 0; })
      .map(function (l) { return describe(l).what; }).sort();
  };
  window.__errors = [];
  var error = console.error;
  console.error = function () {
    window.__errors.push(Array.prototype.map.call(arguments, String).join(" "));
    return error.apply(console, arguments);
  };
  window.__raw = [];
  window.addEventListener("message", function (e) {
    var data = typeof e.data === "string" ? e.data : JSON.stringify(e.data);
    window.__raw.push({origin: e.origin, data: data});
  });
})();
</script>"""

MODULE_PAGE = (
    """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Control host</title>
<style>body{margin:0;font:14px system-ui,sans-serif} #inline{width:320px;height:480px}</style>
"""
    + INSTRUMENT
    + """
<script type="module">
  import Basiq, { Basiq as Named, BlinkError } from "{{CONTROL}}";
  window.Basiq = Basiq;
  window.BlinkError = BlinkError;
  window.sameExport = Basiq === Named;
  // What a promise came to, readable over DevTools.
  window.settle = function (promise) {
    var box = {state: "pending"}, started = performance.now();
    promise.then(function (value) {
      Object.assign(box, {state: "resolved", value: value, ms: performance.now() - started});
    }, function (e) {
      Object.assign(box, {state: "rejected", ms: performance.now() - started, name: e && e.name,
        kind: e && e.kind, event: e && e.event, payload: e && e.payload,
        message: String(e && e.message), isBlinkError: e instanceof BlinkError});
    });
    return box;
  };
  window.controlReady = true;
</script>
</head><body>
<button id="opener" type="button">Connect a bank</button>
<div id="inline"></div>
</body></html>
"""
)

# Written for Basiq's own control (its demo page, near enough): only the script URL differs.
SEED_PAGE = """<!DOCTYPE html>
<html>
  <head>
    <meta content="text/html;charset=utf-8" http-equiv="Content-Type" />
    <title>Basiq JS Control demo</title>
    <script type="text/javascript" src="{{CONTROL}}"></script>
  </head>
  <body>
    <h1>Basiq control demo</h1>
    <a href="#" id="connectYourAcc">Connect your account</a>
    <script type="text/javascript">
      var userId = parseQueryVariables("userId"),
        accessToken = parseQueryVariables("accessToken"),
        blinkHost = parseQueryVariables("blinkHost");
      var seedLog = [];

      var ui = new Basiq({
        blinkHost: blinkHost,
        userId: userId,
        accessToken: accessToken
      });

      ui.addListener("handshake", function(data, event) {
        seedLog.push([event, data]);
      });

      ui.addListener("connection", function(data) {
        seedLog.push(["connection", data]);
      });

      ui.addListener(["cancellation", "completion"], function(data, event) {
        seedLog.push([event, data === undefined ? null : data]);
        ui.hide();
      });

      document.getElementById("connectYourAcc").onclick = function() {
        ui.render();
      };

      function parseQueryVariables(name) {
        var queryString = window.location.search.substring(1),
          query = {},
          pairs = queryString.split("&");
        for (var i = 0; i < pairs.length; i++) {
          var pair = pairs[i].split("=");
          query[decodeURIComponent(pair[0])] = decodeURIComponent(pair[1] || "");
        }
        return query[name];
      }
    </script>
  </body>
</html>
"""

FORGED = {"event": "connection", "payload": {"success": True, "data": {"id": "forged"}}}
FORGER_PAGE = f"""<!doctype html><meta charset="utf-8"><title>Forger</title>
<script>window.parent.postMessage({json.dumps(json.dumps(FORGED))}, "*");</script>"""
SILENT_PAGE = """<!doctype html><meta charset="utf-8"><title>Silent</title><p>I never post.</p>"""


# -------------------------------------------------------------------------------------------------
# A throwaway server for the host pages


@dataclass
class Pages:
    origin: str

    def url(self, path: str, **query: str) -> str:
        return f"{self.origin}/{path}" + (f"?{urlencode(query)}" if query else "")


@pytest.fixture
def pages(emulator: Emulator) -> Iterator[Pages]:
    app = bottle.Bottle()
    module = MODULE_PAGE.replace("{{CONTROL}}", f"{emulator.url}/control/blink-control.js")
    seed = SEED_PAGE.replace("{{CONTROL}}", f"{emulator.url}/control/blink-control.classic.js")
    for path, body in {
        "/module.html": module,
        "/seed.html": seed,
        "/forger.html": FORGER_PAGE,
        "/silent.html": SILENT_PAGE,
    }.items():
        app.route(path, "GET", lambda body=body: body)
    with serving(app) as url:
        yield Pages(url)


def open_host(open_window: Callable[..., Window], pages: Pages) -> tuple[Window, CDP]:
    """The module host page in a window, with the control imported from the emulator."""
    window = open_window(pages.url("module.html"), page_prefix=pages.origin)
    window.cdp.wait_for("window.controlReady === true", 15)
    return window, window.cdp


def js(value: Any) -> str:
    return json.dumps(value)


def options(customer: Customer, emulator: Emulator, **extra: Any) -> str:
    """The JS object literal for new Basiq(...) against the emulator's Blink page."""
    base: dict[str, Any] = {
        "userId": customer.user_id,
        "accessToken": customer.token,
        "blinkUrl": f"{emulator.url}/index.html",
    }
    return js({**base, **extra})


def settled(page: CDP, name: str, timeout: float = 15.0) -> dict[str, Any]:
    """Wait for a settle() box on the page to leave "pending"; return it."""
    page.wait_for(f"window.{name}.state !== 'pending'", timeout)
    result: dict[str, Any] = page.evaluate(f"window.{name}")
    return result


def control_dom(page: CDP) -> list[str]:
    """Every element the control could have left: basiq- ids and classes, and its style."""
    found: list[str] = page.evaluate(
        "Array.from(document.querySelectorAll('[id^=basiq-], [class*=basiq-]'))"
        ".map(el => el.tagName + '#' + el.id + '.' + el.className)"
    )
    return found


def blink_run(window: Window, emulator: Emulator, name: str = "blink") -> BlinkRun:
    """The Blink frame of the control ``window.<name>``, found by its exact URL."""
    url = window.cdp.evaluate(f"window.{name}.url")
    return BlinkRun(window, emulator.url, window.cdp.frame(url, timeout=15))


def wait_frame_gone(page: CDP, url: str, timeout: float = 10.0) -> None:
    """Wait until no frame of the page has this URL (a destroyed Blink is really gone)."""
    deadline = time.monotonic() + timeout
    while page.find_frame(url) is not None:
        if time.monotonic() >= deadline:
            raise TimeoutError(f"a frame at {url} is still there after {timeout}s")
        time.sleep(0.05)


def click_closing(run: BlinkRun, selector: str) -> None:
    """Click a Blink button whose event makes the control remove Blink's frame.

    The harness confirms a click by reading a counter inside the frame, and clicks again when
    it cannot; once the frame is gone it cannot, so a frame that went away counts as clicked.
    """
    try:
        run.frame.click(selector)
    except (CDPError, TimeoutError) as exc:
        try:
            wait_frame_gone(run.page, run.frame.url_prefix, 5)
        except TimeoutError:
            raise exc from None


def verification(api: Api, job_id: str) -> dict[str, Any]:
    """The verify-credentials step of a job, as the API reports it."""
    return step(api.job(job_id), "verify-credentials")


def connection_id(api: Api, job_id: str) -> str:
    verified = verification(api, job_id)
    assert verified["status"] == "success", verified
    return str(verified["result"]["url"].rsplit("/", 1)[-1])


# -------------------------------------------------------------------------------------------------
# The classic build


def test_classic_build_is_in_sync() -> None:
    spec = importlib.util.spec_from_file_location("build_classic", CONTROL_DIR / "build_classic.py")
    assert spec is not None and spec.loader is not None
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    source = (CONTROL_DIR / "blink-control.js").read_text(encoding="utf-8")
    classic = (CONTROL_DIR / "blink-control.classic.js").read_text(encoding="utf-8")
    assert classic == build.render(source), "run: python assets/control/build_classic.py"


# -------------------------------------------------------------------------------------------------
# The API against the emulator's Blink page


@pytest.mark.gui
def test_listeners_and_connect_against_blink(
    open_window: Callable[..., Window],
    pages: Pages,
    customer: Customer,
    api: Api,
    emulator: Emulator,
) -> None:
    window, page = open_host(open_window, pages)
    assert page.evaluate("window.sameExport") is True

    url = page.evaluate(
        f"""(() => {{
        window.blink = new Basiq({options(customer, emulator, parentOrigin=True)});
        window.calls = {{all: [], once: [], removed: 0, args: []}};
        const removed = () => calls.removed++;
        blink.addListener("connection", removed);
        const names = ["handshake", "job", "connection", "completion"];
        blink.addListener(names, function (payload, name) {{
            calls.all.push({{name, payload}});
            calls.args.push(arguments.length);
        }});
        blink.once(["job", "connection"], (payload, name) => calls.once.push(name));
        blink.removeListener("connection", removed);
        window.first = settle(blink.connect());
        return blink.url;
    }})()"""
    )
    # Every value URL-encoded, and parent_origin handed over.
    assert url == (
        f"{emulator.url}/index.html?iframe=true&user_id={quote(customer.user_id, safe='')}"
        f"&access_token={quote(customer.token, safe='')}"
        f"&parent_origin={quote(pages.origin, safe='')}"
    )
    assert page.evaluate("blink.iframe.src === blink.url && blink.iframe.id") == "basiq-modal-frame"
    assert page.evaluate("blink.allowedOrigin") == emulator.url

    # A wrong password: connect() rejects with kind "failure" and Blink's payload.
    run = blink_run(window, emulator)
    run.choose(HOOLI)
    run.log_in("gavinBelson", "wrong")
    first = settled(page, "first")
    assert first["state"] == "rejected" and first["isBlinkError"], first
    assert (first["name"], first["kind"], first["event"]) == ("BlinkError", "failure", "connection")
    calls = page.evaluate("calls")
    job_id = calls["all"][1]["payload"]["data"]["id"]
    assert first["payload"] == {"success": False, "data": verification(api, job_id)["result"]}
    assert calls["once"] == ["job"]

    # Blink's "Try again", then the right password: a new connect() resolves.
    page.evaluate("window.second = settle(blink.connect())")
    assert page.evaluate("window.second.state") == "pending"
    run.frame.click("#retry")
    run.log_in("gavinBelson", "hooli2016")
    second = settled(page, "second")
    assert second["state"] == "resolved", second
    calls = page.evaluate("calls")
    job_2 = calls["all"][3]["payload"]["data"]["id"]
    assert second["value"] == {"success": True, "data": {"id": connection_id(api, job_2)}}
    assert [c["name"] for c in calls["all"]] == [
        "handshake",
        "job",
        "connection",
        "job",
        "connection",
    ]
    assert set(calls["args"]) == {2}
    assert calls["once"] == ["job"] and calls["removed"] == 0
    # connect() after the connection came answers at once with it.
    page.evaluate("window.again = settle(blink.connect())")
    assert settled(page, "again", 2)["value"] == second["value"]

    # Done: completion, and the control destroys itself as Basiq's did.
    click_closing(run, "#done")
    page.wait_for("calls.all.length === 6 && !blink.rendered", 10)
    assert page.evaluate("calls.all[5]") == {"name": "completion"}
    assert control_dom(page) == []
    wait_frame_gone(page, url)

    # Blink's close button: connect() rejects as cancelled.
    page.evaluate(
        f"""window.blink = new Basiq({options(customer, emulator)});
        window.third = settle(blink.connect());"""
    )
    run = blink_run(window, emulator)
    run.wait_title("Select your bank")
    click_closing(run, "#close")
    third = settled(page, "third")
    assert (third["state"], third["kind"], third["event"]) == (
        "rejected",
        "cancelled",
        "cancellation",
    )
    page.wait_for("!blink.rendered", 5)
    assert control_dom(page) == []
    wait_frame_gone(page, run.frame.url_prefix)

    # A "Blink" that never answers: connect() rejects with kind "timeout" after the timeout.
    silent = options(customer, emulator, timeout=600, blinkUrl=pages.url("silent.html"))
    page.evaluate(
        f"""window.blink = new Basiq({silent});
        window.fourth = settle(blink.connect());"""
    )
    fourth = settled(page, "fourth", 10)
    assert (fourth["state"], fourth["kind"]) == ("rejected", "timeout"), fourth
    assert 550 <= fourth["ms"] < 5000, fourth
    page.evaluate("blink.destroy(); blink.destroy()")  # a second destroy() is harmless
    assert control_dom(page) == []


# -------------------------------------------------------------------------------------------------
# Safety


@pytest.mark.gui
def test_forged_messages_are_ignored_and_counted(
    open_window: Callable[..., Window],
    pages: Pages,
    customer: Customer,
    emulator: Emulator,
) -> None:
    window, page = open_host(open_window, pages)
    page.evaluate(
        f"""(() => {{
        window.blink = new Basiq({options(customer, emulator, parentOrigin=True)});
        window.calls = {{handshake: 0, connection: 0, job: 0, rejected: []}};
        blink.addListener("handshake", () => calls.handshake++);
        blink.addListener(["connection", "job"], (payload, name) => calls[name]++);
        blink.addListener("rejected", info => calls.rejected.push(info));
        window.pending = settle(blink.connect());
    }})()"""
    )
    run = blink_run(window, emulator)
    run.wait_title("Select your bank")
    page.wait_for("calls.handshake === 1", 10)
    forged = js(json.dumps(FORGED))
    demo = f"{emulator.url}/index.html?iframe=true&demo=true"

    # Wrong origin: a frame of the host's own server, and the host page itself.
    page.evaluate(
        f"""(() => {{
        for (const src of [{js(pages.url("forger.html"))}, {js(demo)}]) {{
            const frame = document.createElement("iframe");
            frame.src = src;
            frame.style.cssText = "position:fixed;left:0;top:0;width:50px;height:50px";
            document.body.appendChild(frame);
        }}
        window.postMessage({forged}, "*");
    }})()"""
    )
    # The right origin, the wrong window: a second Blink (demo) whose handshake comes in after
    # 1 s, and a forged connection posted from inside it.
    other = page.frame(demo, timeout=15)
    other.evaluate(f"window.parent.postMessage({forged}, '*')")
    # The right origin and window, but not JSON.
    run.frame.evaluate("window.parent.postMessage('{not json', '*')")

    page.wait_for("blink.rejectedCount >= 5", 15)
    rejected = page.evaluate("calls.rejected")
    assert sorted((r["reason"], r["origin"]) for r in rejected) == sorted(
        [
            ("origin", pages.origin),
            ("origin", pages.origin),
            ("source", emulator.url),
            ("source", emulator.url),
            ("unparseable", emulator.url),
        ]
    )
    # They were delivered to the page (its own listener saw them) and went no further.
    raw = page.evaluate("__raw.map(m => m.data)")
    assert raw.count(json.dumps(FORGED)) == 3
    assert page.evaluate("blink.rejectedCount") == 5
    assert page.evaluate("[calls.connection, calls.job, calls.handshake]") == [0, 0, 1]
    assert page.evaluate("pending.state") == "pending"


@pytest.mark.gui
def test_destroy_leaves_no_listener_and_no_dom(
    open_window: Callable[..., Window],
    pages: Pages,
    customer: Customer,
    emulator: Emulator,
) -> None:
    _window, page = open_host(open_window, pages)

    # Inline: the iframe fills the given element; one window listener, no backdrop.
    inline = page.evaluate(
        f"""during(() => {{
        window.inline = new Basiq(Object.assign({options(customer, emulator, mode="inline")},
            {{element: document.getElementById("inline")}}));
        inline.render();
    }})"""
    )
    assert [a["what"] for a in inline["added"]] == ["window:message"] and not inline["removed"]
    geometry = page.evaluate(
        """(() => {
        const a = inline.iframe.getBoundingClientRect();
        const b = document.getElementById("inline").getBoundingClientRect();
        return [a.left - b.left, a.top - b.top, a.width - b.width, a.height - b.height, b.width];
    })()"""
    )
    assert geometry == [0, 0, 0, 0, 320]
    assert page.evaluate("!document.getElementById('basiq-modal-container-backdrop')")
    assert page.evaluate("during(() => inline.destroy())") == {
        "added": [],
        "removed": inline["added"],
    }
    assert control_dom(page) == []

    # Modal: nothing on construction; a window listener, and a key and a focus listener on
    # document while shown; all of them gone after destroy().
    made = page.evaluate(
        f"""during(() => {{
        window.blink = new Basiq({options(customer, emulator)});
        window.calls = {{handshake: 0, rejected: 0}};
        blink.addListener("handshake", () => calls.handshake++);
        blink.addListener("rejected", () => calls.rejected++);
    }})"""
    )
    assert made == {"added": [], "removed": []}
    shown = page.evaluate("during(() => { window.pending = settle(blink.connect()); })")
    assert sorted(a["what"] for a in shown["added"]) == [
        "document:focusin",
        "document:keydown",
        "window:message",
    ]
    ids = [a["id"] for a in shown["added"]]
    assert page.evaluate("!!document.getElementById('basiq-control-style')")
    page.wait_for("calls.handshake === 1", 15)
    url = page.evaluate("blink.url")

    gone = page.evaluate("during(() => blink.destroy())")
    assert gone["added"] == [] and sorted(a["id"] for a in gone["removed"]) == sorted(ids)
    pending = settled(page, "pending", 2)
    assert (pending["kind"], pending["event"]) == ("cancelled", "destroy")
    assert control_dom(page) == []
    assert page.evaluate("[blink.iframe, blink.rendered, Object.keys(blink.listeners).length]") == [
        None,
        False,
        0,
    ]

    # The same Blink again, in an iframe of the page's own: its genuine handshake reaches the
    # page and nothing of the control's.
    page.evaluate(
        f"""(() => {{
        blink.addListener("handshake", () => calls.handshake++);
        window.__raw = [];
        const frame = document.createElement("iframe");
        frame.id = "again";
        frame.src = {js(url)};
        document.body.appendChild(frame);
    }})()"""
    )
    page.wait_for(
        f"__raw.some(m => m.origin === {js(emulator.url)} && m.data.includes('handshake'))", 15
    )
    assert page.evaluate("[calls.handshake, calls.rejected, blink.rejectedCount]") == [1, 0, 0]
    assert page.evaluate(f"stillLive({js(ids)})") == []


# -------------------------------------------------------------------------------------------------
# A page written for Basiq's control


@pytest.mark.gui
def test_a_page_written_for_basiqs_control(
    open_window: Callable[..., Window],
    pages: Pages,
    customer: Customer,
    api: Api,
    emulator: Emulator,
) -> None:
    url = pages.url(
        "seed.html",
        userId=customer.user_id,
        accessToken=customer.token,
        blinkHost=f"{emulator.url}/",
    )
    window = open_window(url, page_prefix=pages.origin)
    page = window.cdp
    page.wait_for("typeof ui === 'object' && typeof window.BlinkError === 'function'", 15)
    page.click("#connectYourAcc")

    run = blink_run(window, emulator, "ui")
    assert run.frame.evaluate("location.href") == (
        f"{emulator.url}/index.html?iframe=true&user_id={quote(customer.user_id, safe='')}"
        f"&access_token={quote(customer.token, safe='')}"
    )
    run.choose(HOOLI)
    run.log_in("gavinBelson", "hooli2016")
    page.wait_for("seedLog.some(e => e[0] === 'connection')", 15)
    log = page.evaluate("seedLog")
    assert [entry[0] for entry in log] == ["handshake", "connection"]
    connection = log[1][1]
    response = api.call("GET", f"/users/{customer.user_id}/connections", api.token())
    connections = response.json()["data"]
    assert connection == {"success": True, "data": {"id": connections[0]["id"]}}

    click_closing(run, "#done")
    page.wait_for("seedLog.length === 3 && !ui.rendered", 10)
    assert page.evaluate("seedLog[2]") == ["completion", None]
    assert control_dom(page) == []


# -------------------------------------------------------------------------------------------------
# Callback errors


@pytest.mark.gui
def test_callback_errors_are_reported_and_others_still_run(
    open_window: Callable[..., Window],
    pages: Pages,
    customer: Customer,
    emulator: Emulator,
) -> None:
    _window, page = open_host(open_window, pages)
    page.evaluate(
        f"""(() => {{
        window.blink = new Basiq({options(customer, emulator)});
        window.calls = [];
        blink.addListener("handshake", () => {{ calls.push("first"); throw new Error("boom"); }});
        blink.addListener("handshake", (payload, name) => calls.push("second:" + name));
        blink.addListener("error", info => {{
            calls.push("error:" + info.event + ":" + info.error.message);
            throw new Error("the error handler fails too");
        }});
        blink.addListener("error", () => calls.push("error again"));
        blink.render();
    }})()"""
    )
    page.wait_for("calls.length >= 4", 15)
    assert page.evaluate("calls") == [
        "first",
        "error:handshake:boom",
        "error again",
        "second:handshake",
    ]
    errors = page.evaluate("__errors")
    assert len(errors) == 2
    assert 'a callback for "handshake" threw' in errors[0] and "boom" in errors[0]
    assert 'a callback for "error" threw' in errors[1] and "fails too" in errors[1]
    page.evaluate("blink.destroy()")


# -------------------------------------------------------------------------------------------------
# Modal: focus trap, Escape, object data


@pytest.mark.gui
def test_modal_focus_trap_escape_and_object_messages(
    open_window: Callable[..., Window],
    pages: Pages,
    customer: Customer,
    emulator: Emulator,
) -> None:
    window, page = open_host(open_window, pages)
    page.click("#opener")
    shown = page.evaluate(
        f"""during(() => {{
        window.blink = new Basiq({options(customer, emulator, parentOrigin=True)});
        window.calls = {{job: [], cancellation: 0, close: []}};
        blink.addListener("job", payload => calls.job.push(payload));
        blink.addListener("cancellation", () => calls.cancellation++);
        blink.addListener("close", info => calls.close.push(info));
        window.pending = settle(blink.connect());
    }})"""
    )
    ids = [a["id"] for a in shown["added"]]
    box = page.evaluate(
        """(() => {
        const r = document.getElementById("basiq-modal-container").getBoundingClientRect();
        return {w: r.width, h: r.height, cx: r.left + r.width / 2, cy: r.top + r.height / 2,
                vw: innerWidth, vh: innerHeight, focus: document.activeElement.id};
    })()"""
    )
    assert box["w"] == 307 and 450 <= box["h"] <= 520, box
    assert abs(box["cx"] - box["vw"] / 2) <= 1 and abs(box["cy"] - box["vh"] / 2) <= 1, box
    assert box["focus"] == "basiq-modal-container"

    run = blink_run(window, emulator)
    frame = run.choose(HOOLI)
    run.wait_title("Login")
    tabbables = """Array.from(document.querySelectorAll(
        "a[href], button, input, select, textarea, [tabindex]"
    )).filter(el => el.tabIndex >= 0 && !el.disabled && el.getClientRects().length)"""
    order = frame.evaluate(f"{tabbables}.map(el => el.id)")
    assert order[-1] == "connect" and "password" in order, order
    host_focus = "document.activeElement.id || document.activeElement.className"
    frame_focus = "document.activeElement && document.activeElement.id"

    # Tab through Blink to its last element, then once more: back to the dialog; the next
    # Tab is Blink's first element.
    frame.click("#password")
    for expected in order[order.index("password") + 1 :]:
        page.press("Tab")
        frame.wait_for(f"{frame_focus} === {js(expected)}", 5)
    page.press("Tab")
    page.wait_for(f"({host_focus}) === 'basiq-modal-container'", 5)
    page.press("Tab")
    frame.wait_for(f"{frame_focus} === {js(order[0])}", 5)
    assert page.evaluate("document.activeElement === blink.iframe")
    # Shift+Tab from Blink's first element: to the end of the dialog, then Blink's last element.
    page.press("Tab", shift=True)
    page.wait_for(f"({host_focus}) === 'basiq-focus-guard'", 5)
    page.press("Tab", shift=True)
    frame.wait_for(f"{frame_focus} === 'connect'", 5)
    # Focus moved elsewhere on the page comes back to the dialog.
    page.evaluate("document.getElementById('opener').focus()")
    page.wait_for(f"({host_focus}) === 'basiq-modal-container'", 5)

    # Object (not string) data is accepted from Blink's origin and window.
    frame.evaluate(
        "window.parent.postMessage("
        "{event: 'job', payload: {success: true, data: {id: 'obj'}}}, '*')"
    )
    page.wait_for("calls.job.length === 1", 5)
    assert page.evaluate("calls.job[0]") == {"success": True, "data": {"id": "obj"}}
    assert page.evaluate("[blink.rejectedCount, pending.state]") == [0, "pending"]

    # Escape: hidden, connect() cancelled, "close" fired, focus back on the opener, no trap left.
    page.press("Escape")
    pending = settled(page, "pending", 5)
    assert (pending["kind"], pending["event"]) == ("cancelled", "close")
    assert page.evaluate("calls.close") == [{"reason": "escape"}]
    assert page.evaluate("calls.cancellation") == 0
    assert page.evaluate("getComputedStyle(blink.iframe).visibility") == "hidden"
    assert page.evaluate("document.activeElement.id") == "opener"
    assert page.evaluate(f"stillLive({js(ids)})") == ["window:message"]
    # show() brings it back with the trap; destroy() cleans up.
    again = page.evaluate("during(() => blink.show())")
    assert sorted(a["what"] for a in again["added"]) == ["document:focusin", "document:keydown"]
    assert page.evaluate("document.activeElement.id") == "basiq-modal-container"
    page.evaluate("blink.destroy()")
    assert page.evaluate(f"stillLive({js(ids + [a['id'] for a in again['added']])})") == []
    assert control_dom(page) == []

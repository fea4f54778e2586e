"""The JS control (assets/control) in a real engine, on a page from another origin than Blink's.

Host pages come from a throwaway server on 127.0.0.1:0 and load the control from the emulator
(``<emulator>/control/...``), so both the control and Blink are cross-origin to the page. Each
test is one window process driven over the DevTools protocol; Blink is driven like a person.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

import bottle
import pytest

from blink_desktop.emulator import Emulator
from harness.cdp import CDP, CDPError
from tests.conftest import Api, serving, step
from tests.gui.conftest import BlinkRun, Customer, Window

HOOLI = "AU00000"

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

# The classic script and the module, one after the other in one page: what each one gives.
BOTH_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Both forms</title>
<script src="{{CLASSIC}}"></script>
<script>
  window.fromClassic = {Basiq: window.Basiq, BlinkError: window.BlinkError};
  delete window.Basiq;
  delete window.BlinkError;
</script>
<script type="module">
  import Basiq, { Basiq as Named, BlinkError } from "{{MODULE}}";
  window.fromModule = {Basiq: Basiq, Named: Named, BlinkError: BlinkError};
  window.bothReady = true;
</script>
</head><body></body></html>
"""


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
    both = BOTH_PAGE.replace("{{CLASSIC}}", f"{emulator.url}/control/blink-control.classic.js")
    both = both.replace("{{MODULE}}", f"{emulator.url}/control/blink-control.js")
    for path, body in {
        "/module.html": module,
        "/seed.html": seed,
        "/both.html": both,
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
# One source, two forms

PUBLIC_METHODS = [
    "addListener",
    "close",
    "connect",
    "destroy",
    "hide",
    "once",
    "removeListener",
    "render",
    "show",
]


@pytest.mark.gui
def test_the_classic_script_and_the_module_give_the_same_api(
    open_window: Callable[..., Window], pages: Pages, customer: Customer, emulator: Emulator
) -> None:
    window = open_window(pages.url("both.html"), page_prefix=pages.origin)
    page = window.cdp
    page.wait_for("window.bothReady === true", 15)
    described = page.evaluate(
        f"""(() => {{
        const describe = (api) => {{
            const blink = new api.Basiq({options(customer, emulator, mode="inline")});
            const error = new api.BlinkError("timeout", "late", {{event: null}});
            return {{
                basiq: api.Basiq.toString(),
                blinkError: api.BlinkError.toString(),
                methods: Object.getOwnPropertyNames(api.Basiq.prototype)
                    .filter(name => name !== "constructor" && !name.startsWith("_")).sort(),
                instance: Object.keys(blink).filter(name => !name.startsWith("_")).sort(),
                url: blink.url,
                allowedOrigin: blink.allowedOrigin,
                error: [error instanceof Error, error.name, error.kind, error.message, error.event],
            }};
        }};
        return {{
            classic: describe(fromClassic),
            module: describe(fromModule),
            defaultIsNamed: fromModule.Basiq === fromModule.Named,
            separateCopies: fromModule.Basiq !== fromClassic.Basiq,
            moduleSetsGlobals: window.Basiq === fromModule.Basiq
                && window.BlinkError === fromModule.BlinkError,
        }};
    }})()"""
    )
    classic, module = described["classic"], described["module"]
    # Two evaluations of one source text.
    assert described["separateCopies"] is True
    assert classic == module
    assert "class Basiq" in classic["basiq"] and "class BlinkError" in classic["blinkError"]
    assert classic["methods"] == PUBLIC_METHODS
    assert classic["instance"] == [
        "allowedOrigin",
        "autoDestroy",
        "iframe",
        "listeners",
        "mode",
        "options",
        "rejectedCount",
        "rendered",
        "timeout",
        "url",
        "visible",
    ]
    assert classic["url"].startswith(f"{emulator.url}/index.html?iframe=true&user_id=")
    assert classic["allowedOrigin"] == emulator.url
    assert classic["error"] == [True, "BlinkError", "timeout", "late", None]
    assert described["defaultIsNamed"] is True
    assert described["moduleSetsGlobals"] is True


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

    # Modal: nothing on construction; one window listener while shown (the dialog handles keys
    # and focus itself); gone after destroy().
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
    assert [a["what"] for a in shown["added"]] == ["window:message"] and not shown["removed"]
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
# Modal: a <dialog> shown with showModal(): focus kept inside, Escape, object data


def tab_back_into_blink(page: CDP, run: BlinkRun, *, shift: bool, start: str) -> tuple[str, int]:
    """Press Tab (Shift+Tab) from Blink's element ``start`` until focus is back in Blink on
    another element; return that element's id and the number of presses.

    Past Blink's last (first) element focus leaves the page for the window, as it leaves a
    browser's page for its toolbar; nothing there can be observed, so each press gets a second
    to bring focus back into Blink before the next.
    """
    back = f"document.hasFocus() && document.activeElement.id !== {js(start)}"
    for presses in range(1, 5):
        page.press("Tab", shift=shift)
        try:
            run.frame.wait_for(back, 1)
        except TimeoutError:
            # Not in Blink: then not on the host page either.
            assert page.evaluate(
                "document.activeElement === document.body"
                " || document.getElementById('basiq-modal-container')"
                ".contains(document.activeElement)"
            )
            continue
        return str(run.frame.evaluate("document.activeElement.id")), presses
    raise AssertionError(f"focus never came back into Blink from {start!r}")


@pytest.mark.gui
def test_modal_focus_trap_escape_and_object_messages(
    open_window: Callable[..., Window],
    pages: Pages,
    customer: Customer,
    emulator: Emulator,
) -> None:
    window, page = open_host(open_window, pages)
    # The host page's one focusable element: whatever reaches it while the modal is open counts.
    page.evaluate(
        """(() => {
        window.openerUse = {focus: 0, click: 0};
        const opener = document.getElementById("opener");
        opener.addEventListener("focus", () => openerUse.focus++);
        opener.addEventListener("click", () => openerUse.click++);
    })()"""
    )
    page.click("#opener")
    assert page.evaluate("openerUse") == {"focus": 1, "click": 1}
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
        const dialog = document.getElementById("basiq-modal-container");
        const r = dialog.getBoundingClientRect();
        return {w: r.width, h: r.height, cx: r.left + r.width / 2, cy: r.top + r.height / 2,
                vw: innerWidth, vh: innerHeight, focus: document.activeElement.id,
                modal: dialog.matches("dialog:modal") && blink.iframe.parentElement === dialog,
                backdrop: getComputedStyle(dialog, "::backdrop").backgroundColor};
    })()"""
    )
    assert box["w"] == 307 and 450 <= box["h"] <= 520, box
    assert abs(box["cx"] - box["vw"] / 2) <= 1 and abs(box["cy"] - box["vh"] / 2) <= 1, box
    assert box["focus"] == "basiq-modal-container"
    assert box["modal"] is True
    assert box["backdrop"] == "rgba(15, 23, 42, 0.45)"

    run = blink_run(window, emulator)
    frame = run.choose(HOOLI)
    run.wait_title("Login")
    tabbables = """Array.from(document.querySelectorAll(
        "a[href], button, input, select, textarea, [tabindex]"
    )).filter(el => el.tabIndex >= 0 && !el.disabled && el.getClientRects().length)"""
    order = frame.evaluate(f"{tabbables}.map(el => el.id)")
    assert order[-1] == "connect" and "password" in order, order
    frame_focus = "document.activeElement && document.activeElement.id"

    # Tab through Blink to its last element, then on: focus goes round (by way of the window,
    # never the host page) and comes back at Blink's first element.
    frame.click("#password")
    for expected in order[order.index("password") + 1 :]:
        page.press("Tab")
        frame.wait_for(f"{frame_focus} === {js(expected)}", 5)
    entered, presses = tab_back_into_blink(page, run, shift=False, start=order[-1])
    assert (entered, presses > 1) == (order[0], True)
    assert page.evaluate("document.activeElement === blink.iframe")
    # Shift+Tab from Blink's first element: round the other way, to Blink's last element.
    entered, presses = tab_back_into_blink(page, run, shift=True, start=order[0])
    assert (entered, presses > 1) == (order[-1], True)
    # The rest of the page is inert: focus() and a real click on the opener do nothing; the
    # click lands on the backdrop, which belongs to the dialog, and focuses it.
    assert page.evaluate(
        "document.getElementById('opener').focus(), document.activeElement === blink.iframe"
    )
    x, y = page.evaluate(
        """(r => [r.left + r.width / 2, r.top + r.height / 2])(
        document.getElementById("opener").getBoundingClientRect())"""
    )
    page.mouse_click(x, y)
    page.wait_for("document.activeElement.id === 'basiq-modal-container'", 5)
    assert page.evaluate("openerUse") == {"focus": 1, "click": 1}

    # Object (not string) data is accepted from Blink's origin and window.
    frame.evaluate(
        "window.parent.postMessage("
        "{event: 'job', payload: {success: true, data: {id: 'obj'}}}, '*')"
    )
    page.wait_for("calls.job.length === 1", 5)
    assert page.evaluate("calls.job[0]") == {"success": True, "data": {"id": "obj"}}
    assert page.evaluate("[blink.rejectedCount, pending.state]") == [0, "pending"]

    # Escape: closed, connect() cancelled, "close" fired, focus back on the opener.
    frame.evaluate("document.getElementById('loginId').value = 'kept'")
    page.press("Escape")
    pending = settled(page, "pending", 5)
    assert (pending["kind"], pending["event"]) == ("cancelled", "close")
    assert page.evaluate("calls.close") == [{"reason": "escape"}]
    assert page.evaluate("calls.cancellation") == 0
    assert page.evaluate(
        "[blink.visible, document.getElementById('basiq-modal-container').open,"
        " blink.iframe.getClientRects().length]"
    ) == [False, False, 0]
    assert page.evaluate("document.activeElement.id") == "opener"
    assert page.evaluate("openerUse") == {"focus": 2, "click": 1}
    assert page.evaluate(f"stillLive({js(ids)})") == ["window:message"]
    # show() opens the same dialog, Blink as it was, and adds no listener; destroy() gives
    # focus back and cleans up.
    again = page.evaluate("during(() => blink.show())")
    assert again == {"added": [], "removed": []}
    assert page.evaluate("document.activeElement.id") == "basiq-modal-container"
    assert page.evaluate("document.getElementById('basiq-modal-container').matches(':modal')")
    assert frame.evaluate("document.getElementById('loginId').value") == "kept"
    assert frame.text("#title") == "Login"
    assert page.evaluate("blink.destroy(), document.activeElement.id") == "opener"
    assert page.evaluate(f"stillLive({js(ids)})") == []
    assert control_dom(page) == []

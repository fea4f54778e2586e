"""A URL's origin as the engine writes it (`event.origin`, `location.origin`) for the URLs the
app compares: http(s) pages, Blink's among them, and the app's own page. Scheme and host in
lower case, no user name or password, the port only when it is not the scheme's default; a
file URL's is "file://", as Chromium writes it. Anything else is "null", no one's origin, not
even its own (a blob: URL's inner origin, which Chromium would give, is not needed here)."""

from __future__ import annotations

from urllib.parse import urlsplit

_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}


def origin(url: str) -> str:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:  # not a port at all: no origin
        return "null"
    host = (parts.hostname or "").lower()
    if scheme == "file":
        return "file://"
    if scheme not in _DEFAULT_PORTS or not host:
        return "null"
    host = f"[{host}]" if ":" in host else host
    shown = "" if port is None or port == _DEFAULT_PORTS[scheme] else f":{port}"
    return f"{scheme}://{host}{shown}"

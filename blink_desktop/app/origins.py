"""A URL's origin as a browser writes it (`event.origin`, `location.origin`), so the app's own
comparisons (Blink's messages, the app's own page, the redirect URL's site) agree with the
engine's: scheme and host in lower case, no user name or password, the port only when it is
not the scheme's default. A file URL's is "file://", as Chromium writes it; anything else
without a web origin is "null", which is no one's origin, not even its own."""

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

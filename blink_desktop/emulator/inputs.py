"""What a request carries, read so that no bytes a client sends can make the emulator fail.

WSGI hands headers and the query string over as latin-1 text of the bytes that arrived:
`header()` and `query()` turn them back into those bytes and read them as UTF-8, replacing what
is not, so a hostile value is one that matches nothing (a 4xx further on), never an exception.
`read_body()` takes the body off the connection once, however it arrives (Content-Length, or
chunked where the server leaves that to the app), and never more than MAX_BODY bytes.
`decode_json()` is the one JSON decoder of every route: it refuses what is not JSON, NaN and
Infinity, nesting deeper than MAX_DEPTH (whatever the parser's recursion limit) and strings
holding half a UTF-16 pair, which no text can be stored as.
"""

from __future__ import annotations

import json
from typing import Any, BinaryIO
from urllib.parse import parse_qsl

from blink_desktop.emulator.problems import Problem, not_valid, too_large

MAX_BODY = 1024 * 1024
MAX_DEPTH = 32  # Basiq's bodies nest three deep; nothing a client means to send nests 32
BODY = "blink_desktop.emulator.body"  # where read_body() leaves the body in the WSGI environ
_LINE = 1024  # the longest chunk-size or trailer line read in a chunked body
_TRAILERS = 64
_HEX = frozenset(b"0123456789abcdefABCDEF")

Environ = dict[str, Any]


def text(value: str) -> str:
    """A WSGI string (latin-1 of the bytes received) as the UTF-8 text it was sent as."""
    try:
        raw = value.encode("latin-1")
    except UnicodeEncodeError:  # already decoded by the server: keep it, less what no text holds
        raw = value.encode("utf-8", "replace")
    return raw.decode("utf-8", "replace")


def header(environ: Environ, name: str) -> str | None:
    """The request header `name` (any case), or None when absent. Never raises."""
    key = name.upper().replace("-", "_")
    if key not in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        key = f"HTTP_{key}"
    value = environ.get(key)
    return None if value is None else text(str(value))


def query(environ: Environ, name: str) -> str | None:
    """The last value of `name` in the query string, percent-decoded as UTF-8. Never raises."""
    found = None
    pairs = parse_qsl(text(str(environ.get("QUERY_STRING") or "")), keep_blank_values=True)
    for key, value in pairs:
        if key == name:
            found = value
    return found


def content_type(environ: Environ) -> str:
    """The media type alone, lower case: "application/json; charset=utf-8" is application/json."""
    return (header(environ, "Content-Type") or "").split(";")[0].strip().lower()


def body(environ: Environ) -> bytes:
    """The body read_body() took off the connection (the middleware calls it for every request)."""
    value = environ.get(BODY, b"")
    return value if isinstance(value, bytes) else b""


def read_body(environ: Environ) -> bytes:
    """Read the whole body, up to MAX_BODY bytes; a 400 or 413 `Problem` when it can't be."""
    stream = environ.get("wsgi.input")
    encoding = (header(environ, "Transfer-Encoding") or "").strip().lower()
    if encoding:
        if encoding != "chunked":
            raise not_valid(
                "Only chunked transfer encoding is supported.",
                "Transfer-Encoding",
                "header/Transfer-Encoding",
            )
        return _dechunk(stream) if stream is not None else b""
    declared = (header(environ, "Content-Length") or "").strip()
    if not declared:
        return b""
    if not (declared.isascii() and declared.isdigit()):
        raise not_valid(
            "Content-Length must be a whole number of bytes.",
            "Content-Length",
            "header/Content-Length",
        )
    if len(declared) > 12 or int(declared) > MAX_BODY:
        raise too_large(MAX_BODY)
    length = int(declared)
    raw = stream.read(length) if stream is not None and length else b""
    if len(raw) != length:
        raise _bad_body("The request body is shorter than its Content-Length.")
    return bytes(raw)


def _dechunk(stream: BinaryIO) -> bytes:
    received = bytearray()
    while True:
        line = stream.readline(_LINE)
        size_text = line.split(b";", 1)[0].strip()
        if not line.endswith(b"\n") or not size_text or not set(size_text) <= _HEX:
            raise _bad_body("The chunked request body is malformed.")
        size = int(size_text, 16)
        if size == 0:
            break
        if len(received) + size > MAX_BODY:
            raise too_large(MAX_BODY)
        chunk = stream.read(size)
        if len(chunk) != size or stream.read(2) != b"\r\n":
            raise _bad_body("The chunked request body is malformed.")
        received += chunk
    for _ in range(_TRAILERS):
        trailer = stream.readline(_LINE)
        if not trailer.endswith(b"\n"):
            raise _bad_body("The chunked request body is malformed.")
        if not trailer.strip():
            return bytes(received)
    raise _bad_body("The chunked request body has too many trailers.")


def decode_json(raw: bytes) -> Any:
    """The JSON value of a request body, or Basiq's 400 for anything else."""
    try:
        value = json.loads(raw.decode("utf-8"), parse_constant=_no_constant)
    except (ValueError, RecursionError):  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise not_valid("The request body is not valid JSON.") from None
    pending: list[tuple[Any, int]] = [(value, 1)]
    while pending:  # a loop, not recursion: depth is what is being checked
        item, depth = pending.pop()
        if isinstance(item, str):
            _check_text(item)
        elif isinstance(item, list | dict):
            if depth > MAX_DEPTH:
                raise not_valid(f"The request body nests more than {MAX_DEPTH} levels deep.")
            if isinstance(item, dict):
                for key in item:
                    _check_text(key)
            inner = item.values() if isinstance(item, dict) else item
            pending.extend((each, depth + 1) for each in inner)
    return value


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _check_text(value: str) -> None:
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise not_valid(
                "The request body holds a string that is not valid Unicode "
                "(half of a UTF-16 surrogate pair)."
            ) from None


def _bad_body(detail: str) -> Problem:
    return Problem(400, "invalid-content", "Invalid content", detail)

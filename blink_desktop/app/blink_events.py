"""Blink's protocol: its five events as pydantic models, and its ``basiq://EVENT/JSON`` URLs.

A message from Blink is `{"event": NAME, "payload": …}`, posted as a JSON string (or an
object), or navigated to as ``basiq://EVENT/JSON`` in a webview. Each event has its own model;
anything else is rejected with a reason. `EVENT_NAMES` is the one list of the events: the
host page gets it from the bridge.
"""

from __future__ import annotations

import functools
import json
from typing import Annotated, Any, Literal, get_args
from urllib.parse import unquote

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    TypeAdapter,
    ValidationError,
)

MAX_MESSAGE_BYTES = 64 * 1024
Identifier = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_-]+$")]
Text = Annotated[str, Field(max_length=2000)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, defer_build=True)


class Ref(_Strict):
    id: Identifier
    # Later Blink pages add these to the connection payload.
    institutionName: Text | None = None
    logo: Text | None = None


class Failure(BaseModel):
    """Blink passes Basiq's error object through; keep what a person needs to read."""

    model_config = ConfigDict(extra="ignore", frozen=True)
    code: Text | None = None
    title: Text | None = None
    detail: Text | None = None


class Succeeded(_Strict):
    success: Literal[True]
    data: Ref


class Failed(_Strict):
    success: Literal[False]
    data: Failure | None = None


class Ok(_Strict):
    success: bool


def _outcome(value: Any) -> str | None:
    # 1 == True in Python, so a plain discriminator on Literal[True] lets 1 and 1.0 through as a
    # success; Blink sends JSON booleans, and only those choose a model.
    success = value.get("success") if isinstance(value, dict) else getattr(value, "success", None)
    if not isinstance(success, bool):
        return None
    return _TAGS[0] if success else _TAGS[1]


_TAGS = ("succeeded", "failed")
Outcome = Annotated[
    Annotated[Succeeded, Tag("succeeded")] | Annotated[Failed, Tag("failed")],
    Discriminator(
        _outcome,
        custom_error_type="success_not_boolean",
        custom_error_message="success must be true or false",
    ),
]


class Handshake(_Strict):
    event: Literal["handshake"]
    payload: Ok


class Job(_Strict):
    event: Literal["job"]
    payload: Outcome


class Connection(_Strict):
    event: Literal["connection"]
    payload: Outcome


class Cancellation(_Strict):
    event: Literal["cancellation"]
    payload: None = None


class Completion(_Strict):
    event: Literal["completion"]
    payload: dict[str, Any] | None = None


Event = Handshake | Job | Connection | Cancellation | Completion


@functools.cache  # built at the first message, not at import (see basiq/models.py)
def _adapter() -> TypeAdapter[Event]:
    return TypeAdapter(Annotated[Event, Field(discriminator="event")])


EVENT_NAMES: tuple[str, ...] = tuple(
    get_args(model.model_fields["event"].annotation)[0] for model in get_args(Event)
)


class Rejected(ValueError):
    """The message is not a Blink event we accept; str() says why."""


UNREADABLE = "(a message that cannot be written as JSON)"


def as_text(data: Any) -> str:
    """The message as the text the event log keeps: a string as sent, anything else as JSON."""
    if isinstance(data, str):
        return data
    try:
        return json.dumps(data, ensure_ascii=True, allow_nan=False)
    except (TypeError, ValueError, RecursionError):
        return UNREADABLE


def parse_event(data: Any) -> Event:
    """Validate postMessage data (a JSON string or an object) as one Blink event.

    An object is measured and read as the JSON text it stands for, so the size limit and the
    nesting limit apply to it exactly as to a string.
    """
    text = as_text(data)
    if text is UNREADABLE:
        raise Rejected("message cannot be read as JSON (nested too deeply, or not JSON values)")
    if len(text.encode("utf-8", "surrogatepass")) > MAX_MESSAGE_BYTES:
        raise Rejected(f"message is larger than {MAX_MESSAGE_BYTES} bytes")
    try:
        data = json.loads(text, parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        raise Rejected("message is not JSON") from None
    if not isinstance(data, dict):
        raise Rejected("message is not an object with an event")
    name = data.get("event")
    if name not in EVENT_NAMES:
        raise Rejected(f"unknown event {str(name)[:40]!r}")
    try:
        return _adapter().validate_python(data)
    except (ValidationError, RecursionError) as exc:
        if isinstance(exc, RecursionError):
            raise Rejected(f"{name}: message is nested too deeply") from None
        first = exc.errors(include_url=False)[0]
        where = ".".join(
            part for part in first["loc"][1:] if isinstance(part, str) and part not in _TAGS
        )
        where = where or "message"
        raise Rejected(f"{name}: {where}: {first['msg']}") from None


SCHEME = "basiq"
MAX_URL_LENGTH = 64 * 1024


def parse_scheme_url(url: str) -> tuple[str, dict[str, Any] | None]:
    """Split a Blink navigation URL into its event name and JSON payload (None when absent)."""
    if not isinstance(url, str):
        raise ValueError(f"Blink URL must be a string, not {type(url).__name__}")
    if len(url) > MAX_URL_LENGTH:
        raise ValueError(f"Blink URL is {len(url)} characters long; the limit is {MAX_URL_LENGTH}")
    prefix = f"{SCHEME}://"
    if url[: len(prefix)].lower() != prefix:
        raise ValueError(f"not a {prefix} URL: {url[:80]!r}")
    event, _, raw = url[len(prefix) :].partition("/")
    event = unquote(event).lower()
    if event not in EVENT_NAMES:
        raise ValueError(
            f"unknown Blink event {event[:40]!r}; expected one of {sorted(EVENT_NAMES)}"
        )
    if not raw:
        return event, None
    payload = _decode_json(raw)
    if not isinstance(payload, dict):
        raise ValueError(f"{event} payload must be a JSON object, got {type(payload).__name__}")
    return event, payload


def _decode_json(raw: str) -> Any:
    # Blink appends the JSON raw. Chromium percent-encodes it once, and QUrl encodes it all again
    # when the JSON holds a "%" that starts no escape. So: raw first (a literal "%41" in a JSON
    # string stays intact), then each further decoding; JSON never starts with "%", so the first
    # text that parses is the page's own.
    text = raw
    for _ in range(3):
        try:
            return json.loads(text, parse_constant=_reject_constant)
        except (ValueError, RecursionError) as exc:
            error = exc
        try:
            decoded = unquote(text, errors="strict")
        except UnicodeDecodeError:
            break
        if decoded == text:
            break
        text = decoded
    raise ValueError(f"Blink payload is not valid JSON ({error}): {raw[:80]!r}")


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")

"""Blink's events as pydantic models, and the records the app keeps.

A message from Blink is `{"event": NAME, "payload": …}`, sent as a JSON string (or an object).
Each event has its own model; anything else is rejected with a reason.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

MAX_MESSAGE_BYTES = 64 * 1024
Identifier = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_-]+$")]
Text = Annotated[str, Field(max_length=2000)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


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


class Handshake(_Strict):
    event: Literal["handshake"]
    payload: Ok


class Job(_Strict):
    event: Literal["job"]
    payload: Annotated[Succeeded | Failed, Field(discriminator="success")]


class Connection(_Strict):
    event: Literal["connection"]
    payload: Annotated[Succeeded | Failed, Field(discriminator="success")]


class Cancellation(_Strict):
    event: Literal["cancellation"]
    payload: None = None


class Completion(_Strict):
    event: Literal["completion"]
    payload: dict[str, Any] | None = None


BlinkEvent = Annotated[
    Handshake | Job | Connection | Cancellation | Completion, Field(discriminator="event")
]
_ADAPTER: TypeAdapter[BlinkEvent] = TypeAdapter(BlinkEvent)
EVENT_NAMES = ("handshake", "job", "connection", "cancellation", "completion")


class Rejected(ValueError):
    """The message is not a Blink event we accept; str() says why."""


def parse_event(data: Any) -> Handshake | Job | Connection | Cancellation | Completion:
    """Validate postMessage data (a JSON string or an object) as one Blink event."""
    if isinstance(data, str):
        if len(data.encode("utf-8", "replace")) > MAX_MESSAGE_BYTES:
            raise Rejected(f"message is larger than {MAX_MESSAGE_BYTES} bytes")
        try:
            data = json.loads(data)
        except ValueError:
            raise Rejected("message is not JSON") from None
    if not isinstance(data, dict):
        raise Rejected("message is not an object with an event")
    name = data.get("event")
    if name not in EVENT_NAMES:
        raise Rejected(f"unknown event {str(name)[:40]!r}")
    try:
        return _ADAPTER.validate_python(data)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(part for part in first["loc"][1:] if isinstance(part, str)) or "message"
        raise Rejected(f"{name}: {where}: {first['msg']}") from None


@dataclass(frozen=True)
class StoredConnection:
    id: str
    user_id: str
    institution: str | None
    status: str
    created: str
    updated: str
    last_event: str
    logo: str | None = None

"""What apps may post to the reference server, and the answers when they post something else.

`json_object` turns the raw body into a JSON object; `parse` checks it against one of the
pydantic models below. Every refusal is a `Refused`, answered in the server's envelope
`{"success": false, "errorMessage": …, "error": {"code": …}}`: a field that is absent, null or
"" is `<field>-missing` with the field's own message, any other bad value `<field>-invalid`.
Text fields are trimmed; unknown fields (such as `client_id`, checked first by the routes)
are ignored.
"""

from __future__ import annotations

import json
import re
from typing import Annotated, Any, TypeVar

import bottle
from pydantic import BaseModel, ConfigDict, PlainValidator, ValidationError
from pydantic_core import PydanticCustomError

from blink_desktop.basiq.identifiers import Identifier
from blink_desktop.httpd import HttpProblem, json_response

MAX_BODY = 64 * 1024
ID = re.compile(r"[A-Za-z0-9_-]{1,128}")

NOT_RECEIVED = {
    "email": "Email not received",
    "user_id": "user_id not received",
    "connection_id": "connection_id not received",
}


def answered(result: Any, status: int = 200) -> bottle.HTTPResponse:
    """A success answer of the reference server; `Refused.body` is its error's."""
    return json_response({"success": True, "result": result}, status)


class Refused(HttpProblem):
    """An error answer of the reference server."""

    def __init__(self, status: int, message: str, code: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code

    def body(self) -> dict[str, Any]:
        return {"success": False, "errorMessage": str(self), "error": {"code": self.code}}


def _text(value: object) -> str:
    if value is None or value == "":
        raise PydanticCustomError("missing", "not received")
    if not isinstance(value, str):
        raise PydanticCustomError("invalid", "not text")
    return value.strip()


def _id(value: object) -> str:
    text = _text(value)
    if not ID.fullmatch(text):
        raise PydanticCustomError("invalid", "not an id")
    return text


def _identifier(value: object) -> Identifier:
    text = _text(value)
    try:
        return Identifier.parse(text)
    except ValueError:
        raise PydanticCustomError("invalid", "not an email address or mobile number") from None


AnId = Annotated[str, PlainValidator(_id)]
AnIdentifier = Annotated[Identifier, PlainValidator(_identifier)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class UserBody(_Body):
    """POST /user. Named `email` as in Basiq's example server; the desktop app may send a
    mobile number in it."""

    email: AnIdentifier


class TokenBody(_Body):
    """POST /access_token; `user_id` is required where client tokens are bound to a user."""

    user_id: AnId | None = None


class ConnectionBody(_Body):
    """POST /connections: a connection the app made for this Basiq user."""

    user_id: AnId
    connection_id: AnId


Body = TypeVar("Body", bound=_Body)


def json_object(raw: bytes) -> dict[str, Any]:
    """The body as a JSON object; `raw` is its first MAX_BODY + 1 bytes (more is too large)."""
    if len(raw) > MAX_BODY:
        raise Refused(413, "The request body is too large.", "body-too-large")
    try:
        body = json.loads(raw.decode("utf-8") or "{}")
    except (UnicodeDecodeError, ValueError):
        raise Refused(400, "The request body must be JSON.", "invalid-json") from None
    if not isinstance(body, dict):
        raise Refused(400, "The request body must be a JSON object.", "invalid-json")
    return body


def parse(model: type[Body], body: dict[str, Any]) -> Body:
    """The body as `model`; the first bad field, in the model's order, is the answer."""
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        name = str(first["loc"][0])
        if first["type"] == "missing":
            raise Refused(400, NOT_RECEIVED[name], f"{name}-missing") from None
        raise Refused(400, f"{name} is not valid.", f"{name}-invalid") from None


def path_id(name: str, value: str) -> str:
    """An id taken from the URL path, which is never trimmed."""
    if not ID.fullmatch(value):
        raise Refused(400, f"{name} is not valid.", f"{name}-invalid")
    return value

"""Basiq's error envelope, raised as an exception anywhere in the emulator."""

from __future__ import annotations

import uuid
from typing import Any


class Problem(Exception):
    """An answer in Basiq's error envelope: `{type: list, correlationId, data: [error]}`."""

    def __init__(
        self,
        status: int,
        code: str,
        title: str,
        detail: str,
        *,
        parameter: str | None = None,
        pointer: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.title = title
        self.detail = detail
        self.source = {
            key: value for key, value in (("parameter", parameter), ("pointer", pointer)) if value
        }
        self.headers = headers or {}

    def envelope(self) -> dict[str, Any]:
        error: dict[str, Any] = {
            "type": "error",
            "code": self.code,
            "title": self.title,
            "detail": self.detail,
        }
        if self.source:
            error["source"] = self.source
        return {"type": "list", "correlationId": str(uuid.uuid4()), "data": [error]}


def not_valid(detail: str, parameter: str | None = None, pointer: str | None = None) -> Problem:
    return Problem(
        400,
        "parameter-not-valid",
        "Parameter not valid.",
        detail,
        parameter=parameter,
        pointer=pointer,
    )


def not_supplied(detail: str, parameter: str | None = None, pointer: str | None = None) -> Problem:
    return Problem(
        400,
        "parameter-not-supplied",
        "Required parameter not supplied",
        detail,
        parameter=parameter,
        pointer=pointer,
    )


def not_found(what: str, parameter: str = "id") -> Problem:
    return Problem(
        404,
        "resource-not-found",
        "Requested resource is not found.",
        f"Requested {what} does not exist.",
        parameter=parameter,
    )


def invalid_token() -> Problem:
    return Problem(
        401,
        "invalid-authorization-token",
        "Invalid authorization token",
        "Invalid authorization token.",
        parameter="Authorization",
    )


def unauthorized(detail: str = "You are not authorized to access this resource") -> Problem:
    return Problem(401, "unauthorized-access", "Unauthorized Access", detail)


def expired() -> Problem:
    return Problem(403, "access-denied", "Access denied.", "Token has expired")


def forbidden() -> Problem:
    return Problem(
        403, "forbidden-access", "Forbidden Access", "Access to this resource is forbidden"
    )

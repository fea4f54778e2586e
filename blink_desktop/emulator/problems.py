"""Basiq's error envelope, raised as an exception anywhere in the emulator, and its error answers.

`Problem` is an `httpd.HttpProblem`: the `JsonErrors` plugin on the routes, and the middleware
in front of them, answer it as JSON with its status and headers.
"""

from __future__ import annotations

import uuid
from typing import Any

from blink_desktop.httpd import HttpProblem


class Problem(HttpProblem):
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
        self.headers = dict(headers or {})

    def body(self) -> dict[str, Any]:
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


def unsupported_content_type(what: str) -> Problem:
    return Problem(
        415,
        "unsupported-content-type",
        "Content type not supported.",
        f"The {what} must be sent as application/json.",
        parameter="Content-Type",
    )


def too_large(limit: int) -> Problem:
    return Problem(
        413, "invalid-content", "Payload too large", f"The request body is over {limit} bytes."
    )


def too_many_tokens(limit: int, window: float, retry_after: int) -> Problem:
    return Problem(
        429,
        "too-many-requests",
        "Too many requests",
        f"More than {limit} token requests in {int(window)} s; reuse tokens.",
        headers={"Retry-After": str(retry_after)},
    )


def fault(status: int | None, retry_after: int) -> Problem:
    """The answer an injected fault gives instead of the route's."""
    if status == 429:
        return Problem(
            429,
            "too-many-requests",
            "Too many requests",
            "Request rate limit reached.",
            headers={"Retry-After": str(retry_after)},
        )
    if status == 503:
        return Problem(
            503,
            "service-unavailable",
            "Service unavailable",
            "The service is temporarily unavailable. Please try again later.",
            headers={"Retry-After": str(retry_after)},
        )
    return Problem(
        500, "internal-server-error", "Internal server error", "An unexpected error occurred."
    )


def fallback(status: int, method: str, path: str) -> Problem:
    """What an unknown path (404), a wrong method (405) or a crash (500) answers."""
    if status == 405:
        return Problem(
            405, "method-not-allowed", "Method not allowed", f"{method} is not allowed on {path}."
        )
    if status == 404:
        return Problem(
            404,
            "resource-not-found",
            "Requested resource is not found.",
            f"No resource at {path}.",
        )
    return Problem(
        500,
        "internal-server-error",
        "Internal server error",
        "The emulator failed to handle this request; its log has the details.",
    )


def consent_ui_only(consent_ui: str) -> Problem:
    """What basiq-version 3.0 answers a client that posts credentials to the API."""
    return Problem(
        403,
        "forbidden-access",
        "Forbidden Access",
        "Under basiq-version 3.0 connections are made only through the Consent UI: send the "
        f"person to {consent_ui}?token=<a CLIENT_ACCESS token bound to the user>. Credentials "
        "posted to the API are refused.",
    )

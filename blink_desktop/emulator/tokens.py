"""Access tokens as Basiq issues them: HS256 JWTs (PyJWT) with Basiq's claims.

The issuer signs and reads tokens; whether a token has expired is the caller's decision, made
against the emulator's clock (see auth.py), so PyJWT's own expiry check is off.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any, Literal

import jwt

from blink_desktop.emulator.clock import Clock

Scope = Literal["SERVER_ACCESS", "CLIENT_ACCESS"]
VERSIONS = ("1.0", "2.0", "2.1", "3.0")
MFA_VERSIONS = ("2.1", "3.0")
ALGORITHM = "HS256"


class TokenError(Exception):
    """The token is missing, malformed or not signed by this emulator."""


@dataclass(frozen=True)
class Claims:
    scope: Scope
    version: str
    issued_at: int
    expires_at: int
    user_id: str | None
    generation: int

    @property
    def is_server(self) -> bool:
        return self.scope == "SERVER_ACCESS"

    @property
    def v3(self) -> bool:
        """Made with basiq-version 3.0: answers take 3.0's shapes and rules."""
        return self.version == "3.0"

    @property
    def bound_v3(self) -> bool:
        """A 3.0 client token bound to a user, as Basiq's Consent UI takes."""
        return not self.is_server and self.v3 and bool(self.user_id)


class TokenIssuer:
    def __init__(
        self, secret: bytes, *, partner_id: str, application_id: str, clock: Clock
    ) -> None:
        self._secret = secret
        self._clock = clock
        self.partner_id = partner_id
        self.application_id = application_id

    def issue(
        self, scope: Scope, version: str, ttl: int, user_id: str | None = None, generation: int = 0
    ) -> str:
        now = int(self._clock())
        payload: dict[str, Any] = {
            "partnerid": self.partner_id,
            "applicationid": self.application_id,
            "scope": scope,
            "sandbox_account": True,
            "connect_statements": False,
            "version": version,
            "iat": now,
            "exp": now + ttl,
            "jti": uuid.uuid4().hex,  # every token is distinct, even within one second
            "generation": generation,  # the emulator's "expire all tokens now" bumps this
        }
        if user_id:
            payload["userid"] = user_id
        # PyJWT writes compact ASCII JSON, and these claims never hold '>', '?' or '~', the only
        # ASCII that base64 can turn into '+' or '/'. So the payload's base64url is also plain
        # base64, and pages that decode it with atob(), as Blink does, read it untranslated.
        return jwt.encode(payload, self._secret, algorithm=ALGORITHM)

    def verify(self, token: str) -> Claims:
        """Check the signature and shape; expiry is the caller's decision."""
        try:
            payload = jwt.decode(
                token,
                self._secret,
                algorithms=[ALGORITHM],
                # Time is the emulator's clock, not PyJWT's: the caller checks expiry.
                options={"verify_exp": False, "verify_iat": False, "verify_nbf": False},
            )
        except jwt.PyJWTError as exc:
            raise TokenError(str(exc)) from exc
        try:
            scope = payload["scope"]
            if scope not in ("SERVER_ACCESS", "CLIENT_ACCESS"):
                raise TokenError("unknown scope")
            return Claims(
                scope=scope,
                version=str(payload["version"]),
                issued_at=int(payload["iat"]),
                expires_at=int(payload["exp"]),
                user_id=payload.get("userid"),
                generation=int(payload.get("generation", 0)),
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise TokenError("unreadable payload") from exc

"""JWT-shaped access tokens, signed with HS256, with the claims Basiq's tokens carry."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from dataclasses import dataclass
from typing import Any, Literal

Scope = Literal["SERVER_ACCESS", "CLIENT_ACCESS"]
VERSIONS = ("1.0", "2.0", "2.1", "3.0")
MFA_VERSIONS = ("2.1", "3.0")


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


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class TokenIssuer:
    def __init__(self, secret: bytes, *, partner_id: str, application_id: str) -> None:
        self._secret = secret
        self.partner_id = partner_id
        self.application_id = application_id

    def issue(
        self, scope: Scope, version: str, ttl: int, user_id: str | None = None, generation: int = 0
    ) -> str:
        now = int(time.time())
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
        # Plain ASCII JSON: its standard base64 never needs '+' or '/', so pages that decode
        # the payload with atob(), as Blink does, read it without translating base64url.
        header = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
        body = _b64(json.dumps(payload, separators=(",", ":")).encode("ascii"))
        return f"{header}.{body}.{self._sign(f'{header}.{body}')}"

    def verify(self, token: str) -> Claims:
        """Check the signature and shape; expiry is the caller's decision."""
        parts = token.split(".")
        if len(parts) != 3:
            raise TokenError("not a three-part token")
        if not hmac.compare_digest(self._sign(f"{parts[0]}.{parts[1]}"), parts[2]):
            raise TokenError("bad signature")
        try:
            payload = json.loads(_unb64(parts[1]))
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

    def _sign(self, message: str) -> str:
        return _b64(hmac.new(self._secret, message.encode("ascii"), hashlib.sha256).digest())

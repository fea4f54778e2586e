"""Who may call: /token turns the API key into tokens, and every route checks its bearer token.

`Need` is a route's rule: a server token, a client token, or either; or "owner": a server
token, or a user-bound client token of basiq-version 3.0 (what Basiq's own 3.0 starter calls
from a browser). A client token bound to a user may touch only that user. "Expire every token
now" bumps a generation stored in the state, which each token carries; a token also expires
when the emulator's clock passes its `exp`.
`TokenRateLimit` keeps each client address to Basiq's /token budget, on the same clock.
"""

from __future__ import annotations

import collections
import hmac
import threading
from typing import Any, Literal

from blink_desktop.emulator import DEFAULT_API_KEY
from blink_desktop.emulator.clock import Clock
from blink_desktop.emulator.problems import (
    Problem,
    expired,
    forbidden,
    invalid_token,
    not_found,
    not_supplied,
    not_valid,
    too_many_tokens,
    unauthorized,
)
from blink_desktop.emulator.state import State
from blink_desktop.emulator.tokens import VERSIONS, Claims, Scope, TokenError, TokenIssuer

PARTNER_ID = "e0f9b7b6-0c8f-4b6a-9f61-6b2f3c7d8e90"
APPLICATION_ID = "2f4d8a5c-7e31-4b9e-8d0a-1c6b5e3f9a27"

Need = Literal["server", "client", "any", "owner"]


class Auth:
    def __init__(
        self,
        state: State,
        *,
        clock: Clock,
        api_key: str = DEFAULT_API_KEY,
        token_ttl: int = 3600,
    ) -> None:
        self.state = state
        self.clock = clock
        self.api_key = api_key
        self.token_ttl = token_ttl
        secret = state.meta("secret") or ""
        self.issuer = TokenIssuer(
            bytes.fromhex(secret),
            partner_id=PARTNER_ID,
            application_id=APPLICATION_ID,
            clock=clock,
        )

    def issue(self, authorization: str | None, version: str | None, fields: dict[str, Any]) -> str:
        """A token for `POST /token`, given its Authorization and basiq-version headers."""
        self._check_api_key(authorization)
        version = _check_version(version)
        scope = str(fields.get("scope") or "SERVER_ACCESS").upper()
        if scope not in ("SERVER_ACCESS", "CLIENT_ACCESS"):
            raise not_valid("Scope must be SERVER_ACCESS or CLIENT_ACCESS.", "scope", "body/scope")
        user_id = fields.get("userId") or None
        if user_id is not None and not isinstance(user_id, str):
            raise not_valid("userId must be a string.", "userId", "body/userId")
        if scope == "CLIENT_ACCESS" and version == "3.0" and not user_id:
            raise not_supplied(
                "CLIENT_ACCESS tokens must be bound to a userId", "userId", "body/userId"
            )
        if user_id and not self.state.user(user_id):
            raise not_found("user", "userId")
        granted: Scope = "CLIENT_ACCESS" if scope == "CLIENT_ACCESS" else "SERVER_ACCESS"
        return self.issuer.issue(
            granted,
            version,
            self.token_ttl,
            user_id if granted == "CLIENT_ACCESS" else None,
            self.generation(),
        )

    def authenticate(
        self, authorization: str | None, need: Need, user_id: str | None = None
    ) -> Claims:
        """The claims of a live bearer token that may do what the route needs."""
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise invalid_token()
        try:
            claims = self.issuer.verify(token.strip())
        except TokenError:
            raise invalid_token() from None
        if claims.expires_at <= self.clock() or claims.generation < self.generation():
            raise expired()
        if need == "server" and not claims.is_server:
            raise forbidden()
        if need == "client" and claims.is_server:
            raise forbidden()
        if need == "owner" and not claims.is_server and not claims.bound_v3:
            raise forbidden()
        if user_id is not None and claims.user_id and claims.user_id != user_id:
            raise unauthorized()
        return claims

    def expire_all(self) -> None:
        """Make every token issued so far expired, as if an hour had passed."""
        self.state.set_meta("generation", str(self.generation() + 1))

    def generation(self) -> int:
        return int(self.state.meta("generation") or 0)

    def _check_api_key(self, authorization: str | None) -> None:
        if not authorization:
            raise not_supplied(
                "Authorization header parameter is required",
                "Authorization",
                "header/Authorization",
            )
        scheme, _, key = authorization.partition(" ")
        if scheme.lower() != "basic" or not key.strip():
            raise not_valid("Invalid authorization header", "Authorization", "header/Authorization")
        if not hmac.compare_digest(key.strip().encode(), self.api_key.encode()):
            raise Problem(
                404,
                "parameter-not-valid",
                "We have encountered an error",
                "Unable to authenticate. Please, check your API key",
            )


class TokenRateLimit:
    """Basiq allows 1,500 /token requests per client address per 5 minutes."""

    def __init__(self, limit: int = 1500, window: float = 300.0, *, clock: Clock) -> None:
        self.limit, self.window = limit, window
        self._clock = clock
        self._seen: dict[str, collections.deque[float]] = collections.defaultdict(collections.deque)
        self._lock = threading.Lock()

    def check(self, address: str) -> None:
        now = self._clock()
        with self._lock:
            seen = self._seen[address]
            while seen and seen[0] <= now - self.window:
                seen.popleft()
            if len(seen) >= self.limit:
                retry = max(1, int(seen[0] + self.window - now) + 1)
                raise too_many_tokens(self.limit, self.window, retry)
            seen.append(now)


def _check_version(version: str | None) -> str:
    if not version:
        raise Problem(
            400,
            "parameter-not-valid",
            "Required parameter not valid",
            "Basiq-version must be specified in HTTP request header",
            parameter="basiq-version",
            pointer="header/basiq-version",
        )
    if version not in VERSIONS:
        raise Problem(
            400,
            "parameter-not-valid",
            "Required parameter not valid",
            f"Basiq-version {version!r} is not supported; use one of {', '.join(VERSIONS)}",
            parameter="basiq-version",
            pointer="header/basiq-version",
        )
    return version

"""tokens.py: HS256 JWTs made and read with PyJWT, with Basiq's claims, on the emulator's clock."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import warnings

import jwt
import pytest

from blink_desktop.emulator import FakeClock
from blink_desktop.emulator.tokens import Claims, TokenError, TokenIssuer

SECRET = bytes(range(32))
START = 1_700_000_000


def make_issuer(clock: FakeClock, secret: bytes = SECRET) -> TokenIssuer:
    return TokenIssuer(secret, partner_id="partner", application_id="app", clock=clock)


def payload_of(token: str) -> bytes:
    part = token.split(".")[1]
    return base64.b64decode(part + "=" * (-len(part) % 4), validate=True)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def test_a_token_carries_every_claim_basiq_puts_in_it() -> None:
    issuer = make_issuer(FakeClock(START))
    token = issuer.issue("CLIENT_ACCESS", "3.0", 3600, "user-1", generation=4)
    assert jwt.get_unverified_header(token) == {"alg": "HS256", "typ": "JWT"}
    claims = json.loads(payload_of(token))
    jti = claims.pop("jti")
    assert re.fullmatch(r"[0-9a-f]{32}", jti)
    assert claims == {
        "partnerid": "partner",
        "applicationid": "app",
        "scope": "CLIENT_ACCESS",
        "sandbox_account": True,
        "connect_statements": False,
        "version": "3.0",
        "iat": START,
        "exp": START + 3600,
        "generation": 4,
        "userid": "user-1",
    }


def test_a_server_token_names_no_user_and_every_token_is_distinct() -> None:
    issuer = make_issuer(FakeClock(START))
    first, second = (issuer.issue("SERVER_ACCESS", "2.0", 60) for _ in range(2))
    assert first != second
    assert "userid" not in json.loads(payload_of(first))


@pytest.mark.parametrize(
    ("scope", "version", "user_id"),
    [
        ("SERVER_ACCESS", "1.0", None),
        ("SERVER_ACCESS", "2.0", None),
        ("CLIENT_ACCESS", "2.1", None),
        ("CLIENT_ACCESS", "3.0", "0b7e7cde-2f0f-4c1e-9d55-2f8d0a1e5b66"),
    ],
)
def test_the_payload_is_compact_ascii_json_that_atob_reads(
    scope: str, version: str, user_id: str | None
) -> None:
    issuer = make_issuer(FakeClock(START))
    for _ in range(50):  # the jti differs each time, so the base64 does too
        token = issuer.issue(scope, version, 3600, user_id)  # type: ignore[arg-type]
        part = token.split(".")[1]
        # base64url and standard base64 differ only in '-'/'+' and '_'/'/': with neither,
        # atob() (standard base64) reads what PyJWT wrote.
        assert re.fullmatch(r"[A-Za-z0-9]+", part), part
        raw = payload_of(token)
        text = raw.decode("ascii")
        assert text == json.dumps(json.loads(text), separators=(",", ":"))


def test_verify_reads_the_claims_back() -> None:
    issuer = make_issuer(FakeClock(START))
    token = issuer.issue("CLIENT_ACCESS", "2.1", 90, "someone", generation=2)
    assert issuer.verify(token) == Claims(
        scope="CLIENT_ACCESS",
        version="2.1",
        issued_at=START,
        expires_at=START + 90,
        user_id="someone",
        generation=2,
    )


def test_expiry_is_left_to_the_caller_on_the_emulators_clock() -> None:
    clock = FakeClock(START)
    issuer = make_issuer(clock)
    token = issuer.issue("SERVER_ACCESS", "2.0", 1)
    clock.advance(3600)
    claims = issuer.verify(token)  # PyJWT would call it expired; the emulator decides
    assert claims.expires_at < clock()


def test_a_clock_far_from_real_time_issues_tokens_that_verify() -> None:
    for start in (1_000_000_000, 4_000_000_000):  # 2001, and 2096: PyJWT's iat check is off
        issuer = make_issuer(FakeClock(start))
        assert issuer.verify(issuer.issue("SERVER_ACCESS", "2.0", 60)).issued_at == start


def test_a_token_signed_the_old_hand_written_way_still_verifies() -> None:
    # A state file keeps its secret across upgrades; tokens issued before PyJWT stay good.
    header = b64url(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    claims = {"scope": "SERVER_ACCESS", "version": "2.0", "iat": START, "exp": START + 60}
    body = b64url(json.dumps(claims, separators=(",", ":")).encode("ascii"))
    signature = b64url(hmac.new(SECRET, f"{header}.{body}".encode(), hashlib.sha256).digest())
    verified = make_issuer(FakeClock(START)).verify(f"{header}.{body}.{signature}")
    assert (verified.scope, verified.expires_at, verified.generation) == (
        "SERVER_ACCESS",
        START + 60,
        0,
    )


def forgeries() -> dict[str, str]:
    good = {"scope": "SERVER_ACCESS", "version": "2.0", "iat": START, "exp": START + 60}
    real = make_issuer(FakeClock(START)).issue("CLIENT_ACCESS", "2.0", 60)
    header, payload, signature = real.split(".")
    raised = b64url(json.dumps({**json.loads(payload_of(real)), "scope": "SERVER_ACCESS"}).encode())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # newer PyJWT warns the key is short for SHA-512
        hs512 = jwt.encode(good, SECRET, algorithm="HS512")
    return {
        "another secret": make_issuer(FakeClock(START), b"x" * 32).issue(
            "SERVER_ACCESS", "2.0", 60
        ),
        "alg none": jwt.encode(good, "", algorithm="none"),
        "HS512 with the same secret": hs512,
        "payload changed, signature kept": f"{header}.{raised}.{signature}",
        "signature dropped": f"{header}.{payload}.",
        "two parts": f"{header}.{payload}",
        "garbage": "garbage",
        "empty": "",
        "unknown scope": jwt.encode({**good, "scope": "ADMIN"}, SECRET, algorithm="HS256"),
        "no version": jwt.encode(
            {k: v for k, v in good.items() if k != "version"}, SECRET, algorithm="HS256"
        ),
        "exp not a number": jwt.encode({**good, "exp": "soon"}, SECRET, algorithm="HS256"),
    }


@pytest.mark.parametrize("name", list(forgeries()))
def test_forged_and_malformed_tokens_are_refused(name: str) -> None:
    with pytest.raises(TokenError):
        make_issuer(FakeClock(START)).verify(forgeries()[name])

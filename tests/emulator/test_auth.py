"""POST /token and how every endpoint checks the token it is given (auth.py, over HTTP)."""

from __future__ import annotations

import base64
import json

import pytest
import requests

from blink_desktop.emulator import DEFAULT_API_KEY, Emulator, FakeClock
from tests.conftest import Api, error_of
from tests.emulator.conftest import claims_as_blink_reads_them


def post_token(api: Api, **kwargs: object) -> requests.Response:
    return api.http.post(f"{api.url}/token", timeout=10, **kwargs)  # type: ignore[arg-type]


def basic(key: str = DEFAULT_API_KEY, version: str | None = "2.0") -> dict[str, str]:
    headers = {"Authorization": f"Basic {key}"}
    if version:
        headers["basiq-version"] = version
    return headers


def test_server_token_is_the_default_scope_with_basiqs_claims(api: Api) -> None:
    response = post_token(api, headers=basic())
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 3600
    claims = claims_as_blink_reads_them(body["access_token"])
    assert claims["scope"] == "SERVER_ACCESS"
    assert claims["version"] == "2.0"
    assert claims["exp"] - claims["iat"] == 3600
    assert {"partnerid", "applicationid", "sandbox_account"} <= set(claims)


@pytest.mark.parametrize("version", ["1.0", "2.0", "2.1", "3.0"])
def test_every_supported_version_is_baked_into_the_token(api: Api, version: str) -> None:
    user = api.user()
    data = {"scope": "CLIENT_ACCESS", "userId": user}
    response = post_token(api, headers=basic(version=version), data=data)
    assert response.status_code == 200, response.text
    claims = claims_as_blink_reads_them(response.json()["access_token"])
    assert claims["version"] == version
    assert claims["scope"] == "CLIENT_ACCESS"
    assert claims["userid"] == user


def test_json_body_is_accepted_as_basiqs_example_server_sends_it(api: Api) -> None:
    response = post_token(api, headers=basic(), json={"scope": "CLIENT_ACCESS"})
    assert response.status_code == 200
    assert claims_as_blink_reads_them(response.json()["access_token"])["scope"] == "CLIENT_ACCESS"


def test_missing_version_header_is_refused_as_basiq_does(api: Api) -> None:
    error = error_of(response := post_token(api, headers=basic(version=None)))
    assert response.status_code == 400
    assert error["code"] == "parameter-not-valid"
    assert error["detail"] == "Basiq-version must be specified in HTTP request header"
    assert error["source"] == {"parameter": "basiq-version", "pointer": "header/basiq-version"}


def test_unknown_version_is_refused(api: Api) -> None:
    response = post_token(api, headers=basic(version="0.9"))
    assert response.status_code == 400
    assert "0.9" in error_of(response)["detail"]


def test_wrong_api_key_gets_basiqs_404(api: Api) -> None:
    response = post_token(api, headers=basic(key="bm90LXRoZS1rZXk="))
    assert response.status_code == 404
    assert error_of(response)["detail"] == "Unable to authenticate. Please, check your API key"


@pytest.mark.parametrize(
    ("headers", "detail"),
    [
        ({"basiq-version": "2.0"}, "Authorization header parameter is required"),
        ({"basiq-version": "2.0", "Authorization": "Bearer abc"}, "Invalid authorization header"),
    ],
)
def test_missing_or_malformed_authorization(api: Api, headers: dict[str, str], detail: str) -> None:
    response = post_token(api, headers=headers)
    assert response.status_code == 400
    assert error_of(response)["detail"] == detail


def test_unknown_scope_is_refused(api: Api) -> None:
    response = post_token(api, headers=basic(), data={"scope": "RESTRICTED_ACCESS"})
    assert response.status_code == 400
    assert error_of(response)["source"]["parameter"] == "scope"


def test_version_3_client_token_must_name_a_user(api: Api) -> None:
    response = post_token(api, headers=basic(version="3.0"), data={"scope": "CLIENT_ACCESS"})
    assert response.status_code == 400
    assert error_of(response)["code"] == "parameter-not-supplied"


def test_client_token_for_an_unknown_user_is_refused(api: Api) -> None:
    data = {"scope": "CLIENT_ACCESS", "userId": "no-such-user"}
    response = post_token(api, headers=basic(version="3.0"), data=data)
    assert response.status_code == 404


def test_custom_api_key_and_ttl() -> None:
    with Emulator(api_key="my-key", token_ttl=60) as emulator:
        api = Api(emulator)
        assert post_token(api, headers=basic()).status_code == 404
        response = post_token(api, headers=basic(key="my-key"))
        assert response.json()["expires_in"] == 60


def test_missing_garbage_and_forged_tokens_get_401(api: Api) -> None:
    real = api.token()
    header, payload, _ = real.split(".")
    forged_payload = (
        base64.urlsafe_b64encode(
            json.dumps({**claims_as_blink_reads_them(real), "scope": "SERVER_ACCESS"}).encode()
        )
        .decode()
        .rstrip("=")
    )
    for token in (None, "garbage", f"{header}.{payload}.AAAA", f"{header}.{forged_payload}.x"):
        response = api.call("POST", "/users", token, json={"email": "a@b.co"})
        assert response.status_code == 401, token
        assert error_of(response)["code"] == "invalid-authorization-token"


def test_expired_token_gets_403_access_denied(api: Api) -> None:
    token = api.token()
    api.emulator.expire_tokens()
    response = api.call("POST", "/users", token, json={"email": "a@b.co"})
    assert response.status_code == 403
    error = error_of(response)
    assert (error["code"], error["detail"]) == ("access-denied", "Token has expired")
    assert api.call("POST", "/users", api.token(), json={"email": "a@b.co"}).status_code == 201


def test_token_expires_after_its_lifetime(clock: FakeClock) -> None:
    with Emulator(token_ttl=2, clock=clock) as emulator:
        api = Api(emulator)
        token = api.token()
        user = api.call("POST", "/users", token, json={"email": "a@b.co"}).json()["id"]
        clock.advance(1.75)
        assert api.call("GET", f"/users/{user}", token).status_code == 200
        clock.advance(0.25)
        response = api.call("GET", f"/users/{user}", token)
        assert response.status_code == 403
        error = error_of(response)
        assert (error["code"], error["detail"]) == ("access-denied", "Token has expired")
        assert api.call("GET", f"/users/{user}", api.token()).status_code == 200


def test_token_lifetime_counts_from_the_whole_second_it_was_issued_in() -> None:
    # iat and exp are whole seconds, so a token lives between ttl - 1 and ttl seconds.
    clock = FakeClock(start=1_700_000_000.5)
    with Emulator(token_ttl=2, clock=clock) as emulator:
        api = Api(emulator)
        token = api.token()
        assert claims_as_blink_reads_them(token)["iat"] == 1_700_000_000
        clock.advance(1.25)
        assert api.call("GET", "/institutions", token).status_code == 200
        clock.advance(0.25)
        assert api.call("GET", "/institutions", token).status_code == 403


def test_scopes_follow_the_per_endpoint_table(api: Api) -> None:
    user = api.user()
    client = api.token("CLIENT_ACCESS")
    server = api.token()
    connection = api.connected(user)
    server_only = [
        ("POST", "/users", {"email": "x@y.co"}),
        ("POST", f"/users/{user}", {"email": "x@y.co"}),
        ("GET", f"/users/{user}/connections", None),
        ("POST", f"/users/{user}/connections/refresh", None),
        ("POST", f"/users/{user}/connections/{connection}/refresh", None),
        ("GET", f"/users/{user}/accounts", None),
        ("GET", f"/users/{user}/transactions", None),
        ("GET", f"/users/{user}/jobs", None),
        ("DELETE", f"/users/{user}/connections/{connection}", None),
        ("DELETE", f"/users/{user}", None),
    ]
    for method, path, body in server_only:
        response = api.call(method, path, client, json=body)
        assert response.status_code == 403, (method, path)
        assert error_of(response)["code"] == "forbidden-access"
    for path in (
        f"/users/{user}",
        f"/users/{user}/connections/{connection}",
        "/institutions",
        "/institutions/AU00000",
    ):
        assert api.call("GET", path, client).status_code == 200, path
        assert api.call("GET", path, server).status_code == 200, path
    assert api.call("GET", "/public/institutions").status_code == 200
    assert api.call("GET", "/institutions").status_code == 401
    # The MFA answer is the one endpoint for client tokens only.
    assert (
        api.call("POST", "/jobs/any/mfa", server, json={"mfa-response": ["1"]}).status_code == 403
    )


def test_a_bound_client_token_touches_only_its_user(api: Api) -> None:
    mine, theirs = api.user("me@x.co"), api.user("them@x.co")
    their_job = api.connect(theirs).json()["id"]
    bound = api.token("CLIENT_ACCESS", "3.0", user_id=mine)
    assert api.call("GET", f"/users/{mine}", bound).status_code == 200
    for method, path, body in (
        ("GET", f"/users/{theirs}", None),
        (
            "POST",
            f"/users/{theirs}/connections",
            {"loginId": "jared", "password": "django", "institution": {"id": "AU00000"}},
        ),
        ("GET", f"/jobs/{their_job}", None),
    ):
        response = api.call(method, path, bound, json=body)
        assert response.status_code == 401, path
        assert error_of(response)["code"] == "unauthorized-access"


def test_token_endpoint_is_rate_limited_per_client() -> None:
    with Emulator(token_rate_limit=3) as emulator:
        api = Api(emulator)
        codes = [post_token(api, headers=basic()).status_code for _ in range(4)]
        assert codes == [200, 200, 200, 429]
        last = post_token(api, headers=basic())
        assert last.status_code == 429
        assert int(last.headers["Retry-After"]) > 0


def test_token_rate_limit_counts_the_real_address_not_x_forwarded_for() -> None:
    # X-Forwarded-For is the client's to write: counting it let one client mint past the limit.
    with Emulator(token_rate_limit=3) as emulator:
        api = Api(emulator)
        statuses = [
            post_token(api, headers={**basic(), "X-Forwarded-For": f"10.0.0.{n}"}).status_code
            for n in range(5)
        ]
    assert statuses == [200, 200, 200, 429, 429]


def test_token_rate_limit_window_moves_with_the_clock(clock: FakeClock) -> None:
    with Emulator(token_rate_limit=2, clock=clock) as emulator:
        api = Api(emulator)
        assert [post_token(api, headers=basic()).status_code for _ in range(2)] == [200, 200]
        limited = post_token(api, headers=basic())
        assert limited.status_code == 429
        assert limited.headers["Retry-After"] == "301"
        assert error_of(limited)["code"] == "too-many-requests"
        clock.advance(299)
        assert post_token(api, headers=basic()).headers["Retry-After"] == "2"
        clock.advance(1)
        assert post_token(api, headers=basic()).status_code == 200

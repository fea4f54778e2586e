"""Users: create, read, update, delete, and what their bodies may hold (rules.py, bodies.py)."""

from __future__ import annotations

from typing import Any

import pytest

from blink_desktop.emulator.bodies import UserBody
from blink_desktop.emulator.problems import Problem
from tests.conftest import Api, error_of


def test_user_lifecycle(api: Api) -> None:
    server = api.token()
    created = api.call(
        "POST", "/users", server, json={"email": "gavin@hooli.com", "mobile": "+61410888666"}
    )
    assert created.status_code == 201
    user = created.json()
    assert user["type"] == "user"
    assert user["links"]["self"] == f"{api.url}/users/{user['id']}"
    shown = api.call("GET", f"/users/{user['id']}", server).json()
    assert (shown["email"], shown["mobile"], shown["name"]) == (
        "gavin@hooli.com",
        "+61410888666",
        "",
    )
    assert shown["connections"] == {"type": "list", "count": 0, "data": []}
    assert shown["links"]["auth_link"] is None
    updated = api.call("POST", f"/users/{user['id']}", server, json={"mobile": "+61400000001"})
    assert updated.status_code == 200
    assert updated.json()["mobile"] == "+61400000001"
    assert updated.json()["email"] == "gavin@hooli.com"
    assert api.call("DELETE", f"/users/{user['id']}", server).status_code == 204
    missing = api.call("GET", f"/users/{user['id']}", server)
    assert missing.status_code == 404
    assert error_of(missing)["detail"] == "Requested user does not exist."


@pytest.mark.parametrize(
    ("body", "status", "detail"),
    [
        ({}, 400, "One of 'email' or 'mobile' is required."),
        ({"email": "not-an-email"}, 400, "Provided email is in bad format."),
        ({"mobile": "call me"}, 400, "Provided mobile is in bad format."),
        ({"email": 42}, 400, "Posted user is not in valid format."),
        ([1, 2], 400, "Posted user is not in valid format."),
    ],
)
def test_user_validation(api: Api, body: Any, status: int, detail: str) -> None:
    response = api.call("POST", "/users", api.token(), json=body)
    assert response.status_code == status
    assert error_of(response)["detail"] == detail


def test_version_3_names_are_kept(api: Api) -> None:
    body = {"email": "a@b.co", "firstName": "Gavin", "lastName": "Belson"}
    user = api.call("POST", "/users", api.token(), json=body).json()
    shown = api.call("GET", f"/users/{user['id']}", api.token()).json()
    assert (shown["firstName"], shown["lastName"]) == ("Gavin", "Belson")


@pytest.mark.parametrize(
    ("mobile", "stored"),
    [
        ("+61 410 888 666", "+61410888666"),
        ("(04) 1088-8666", "0410888666"),
        ("   ", None),
        ("", None),
        (None, None),
    ],
)
def test_mobile_numbers_lose_their_separators(mobile: str | None, stored: str | None) -> None:
    assert UserBody(email="a@b.co", mobile=mobile).contact() == ("a@b.co", stored)


def test_email_is_kept_as_given_but_trimmed() -> None:
    assert UserBody(email="  Gavin@Hooli.com ").contact() == ("Gavin@Hooli.com", None)


@pytest.mark.parametrize(
    ("body", "parameter"),
    [
        ({"email": "a@b"}, "email"),
        ({"mobile": "+61 41O 888"}, "mobile"),
        ({"mobile": "12"}, "mobile"),
    ],
)
def test_bad_contacts_name_the_field(body: dict[str, str], parameter: str) -> None:
    with pytest.raises(Problem) as raised:
        UserBody(**body).contact()
    assert raised.value.status == 400
    assert raised.value.body()["data"][0]["source"] == {
        "parameter": parameter,
        "pointer": f"user/{parameter}",
    }


def test_whitespace_only_mobile_with_an_email_creates_the_user(api: Api) -> None:
    created = api.call("POST", "/users", api.token(), json={"email": "a@b.co", "mobile": "  "})
    assert created.status_code == 201
    assert (created.json()["email"], created.json()["mobile"]) == ("a@b.co", "")

"""The request bodies: what each model accepts, and the refusal each bad field becomes."""

from __future__ import annotations

from typing import Any

import pytest

from blink_desktop.basiq.identifiers import Identifier
from blink_desktop.server.bodies import (
    MAX_BODY,
    ConnectionBody,
    Refused,
    TokenBody,
    UserBody,
    json_object,
    parse,
    path_id,
)


def refused(call: Any, *args: Any) -> tuple[int, str, str]:
    with pytest.raises(Refused) as caught:
        call(*args)
    body = caught.value.body()
    assert body == {
        "success": False,
        "errorMessage": body["errorMessage"],
        "error": {"code": body["error"]["code"]},
    }
    return caught.value.status, body["errorMessage"], body["error"]["code"]


def test_the_identifier_is_an_email_or_a_mobile_number_in_canonical_form() -> None:
    assert parse(UserBody, {"email": " Me@X.Co "}).email == Identifier("email", "me@x.co")
    assert parse(UserBody, {"email": "+61 (412) 345-678"}).email == Identifier(
        "mobile", "+61412345678"
    )


def test_unknown_fields_are_ignored_and_text_is_trimmed() -> None:
    body = parse(ConnectionBody, {"user_id": " u1 ", "connection_id": "c-1", "client_id": 5})
    assert (body.user_id, body.connection_id) == ("u1", "c-1")


def test_a_token_body_may_omit_the_user_or_send_null() -> None:
    assert parse(TokenBody, {}).user_id is None
    assert parse(TokenBody, {"user_id": None}).user_id is None
    assert parse(TokenBody, {"user_id": "abc_DEF-123"}).user_id == "abc_DEF-123"


@pytest.mark.parametrize(
    ("model", "body", "answer"),
    [
        (UserBody, {}, (400, "Email not received", "email-missing")),
        (UserBody, {"email": False}, (400, "email is not valid.", "email-invalid")),
        (UserBody, {"email": {"a": 1}}, (400, "email is not valid.", "email-invalid")),
        (TokenBody, {"user_id": ""}, (400, "user_id not received", "user_id-missing")),
        (TokenBody, {"user_id": "a b"}, (400, "user_id is not valid.", "user_id-invalid")),
        (TokenBody, {"user_id": "é"}, (400, "user_id is not valid.", "user_id-invalid")),
        # The first bad field in the model's order is the answer.
        (
            ConnectionBody,
            {"user_id": 1, "connection_id": None},
            (400, "user_id is not valid.", "user_id-invalid"),
        ),
        (
            ConnectionBody,
            {"user_id": "u", "connection_id": None},
            (400, "connection_id not received", "connection_id-missing"),
        ),
    ],
)
def test_bad_fields_become_refusals(
    model: type[UserBody | TokenBody | ConnectionBody],
    body: dict[str, Any],
    answer: tuple[int, str, str],
) -> None:
    assert refused(parse, model, body) == answer


def test_the_body_must_be_a_small_json_object() -> None:
    assert json_object(b"") == {}
    assert json_object(b'{"a": 1}') == {"a": 1}
    assert json_object(b"{" + b" " * (MAX_BODY - 2) + b"}") == {}
    too_large = (413, "The request body is too large.", "body-too-large")
    assert refused(json_object, b"{" + b" " * (MAX_BODY - 1) + b"}") == too_large
    not_json = (400, "The request body must be JSON.", "invalid-json")
    assert refused(json_object, b"{") == not_json
    assert refused(json_object, b"\xff") == not_json
    assert refused(json_object, b"null") == (
        400,
        "The request body must be a JSON object.",
        "invalid-json",
    )


def test_ids_in_the_path_are_checked_untrimmed() -> None:
    assert path_id("user_id", "u-1") == "u-1"
    invalid = (400, "user_id is not valid.", "user_id-invalid")
    assert refused(path_id, "user_id", " u-1") == invalid
    assert refused(path_id, "user_id", "u-1\n") == invalid

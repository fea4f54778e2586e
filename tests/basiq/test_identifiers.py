"""The one identifier rule the app, the server and the emulator share."""

from __future__ import annotations

import pytest

from blink_desktop.basiq.identifiers import Identifier, is_email, mobile_number


@pytest.mark.parametrize(
    ("text", "kind", "value"),
    [
        (" Gavin@Hooli.com ", "email", "gavin@hooli.com"),
        ("a.b+c@x.co", "email", "a.b+c@x.co"),
        ("+61 400 000 000", "mobile", "+61400000000"),
        ("(04) 1234-5678", "mobile", "0412345678"),
    ],
)
def test_emails_and_mobile_numbers_take_one_canonical_form(
    text: str, kind: str, value: str
) -> None:
    assert Identifier.parse(text) == Identifier(kind, value)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "text", ["", "   ", "not an email", "a@b", "@x.co", "a b@x.co", "+61 4", "1234567890123456"]
)
def test_anything_else_is_refused_with_a_message_for_a_person(text: str) -> None:
    with pytest.raises(ValueError, match="Enter an email address"):
        Identifier.parse(text)


def test_the_parts_agree_with_the_whole() -> None:
    assert is_email("x@y.co") and not is_email("x@y")
    assert mobile_number("0400 000 000") == "0400000000"
    assert mobile_number("0400") is None

"""Who a person is to Basiq: an email address or a mobile number, checked by one rule.

The desktop app, the reference server and the emulator all use this rule, so an identifier one
of them accepts is never refused by another.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MOBILE = re.compile(r"^\+?[0-9]{8,15}$")
_MOBILE_SEPARATORS = re.compile(r"[\s()-]")


def is_email(text: str) -> bool:
    return bool(EMAIL.match(text))


def mobile_number(text: str) -> str | None:
    """The number without spaces, dashes or brackets, or None when it is not a mobile number."""
    digits = _MOBILE_SEPARATORS.sub("", text)
    return digits if MOBILE.match(digits) else None


@dataclass(frozen=True)
class Identifier:
    """A person's identifier in its one canonical form (emails in lower case)."""

    kind: Literal["email", "mobile"]
    value: str

    @classmethod
    def parse(cls, text: str) -> Identifier:
        """Raise ValueError, with a message for a person, when `text` is neither."""
        text = text.strip()
        if is_email(text):
            return cls("email", text.lower())
        number = mobile_number(text)
        if number is not None:
            return cls("mobile", number)
        raise ValueError("Enter an email address (or a mobile number) to identify you to Basiq.")

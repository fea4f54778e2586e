"""What clients may post: pydantic models of the user, connection and MFA bodies.

Each model checks the shape (strict types; unknown fields allowed, as Basiq allows them) and
offers the body's values in the form the rules want, raising Basiq's 400 answers otherwise.
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from blink_desktop.basiq.identifiers import is_email, mobile_number
from blink_desktop.emulator.problems import not_supplied, not_valid

_MOBILE_SEPARATORS = " ()-"


class _Body(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True, defer_build=True)  # see basiq/models.py


Body = TypeVar("Body", bound=_Body)


def parse(model: type[Body], body: Any, what: str) -> Body:
    try:
        return model.model_validate(body)
    except ValidationError:
        raise not_valid(f"Posted {what} is not in valid format.") from None


class UserBody(_Body):
    email: str | None = None
    mobile: str | None = None
    firstName: str | None = None
    middleName: str | None = None
    lastName: str | None = None

    def contact(self) -> tuple[str | None, str | None]:
        """(email, mobile number), each None when not given; badly formed ones are refused."""
        email = (self.email or "").strip() or None
        if email and not is_email(email):
            raise not_valid("Provided email is in bad format.", "email", "user/email")
        mobile = None
        if self.mobile and not all(c.isspace() or c in _MOBILE_SEPARATORS for c in self.mobile):
            mobile = mobile_number(self.mobile)
            if mobile is None:
                raise not_valid("Provided mobile is in bad format.", "mobile", "user/mobile")
        return email, mobile

    def names(self) -> dict[str, str]:
        names = {
            "firstName": self.firstName,
            "middleName": self.middleName,
            "lastName": self.lastName,
        }
        return {key: value for key, value in names.items() if value is not None}


class InstitutionRef(_Body):
    id: str | None = None


class ConnectionBody(_Body):
    loginId: str | None = None
    password: str | None = None
    securityCode: str | None = None
    secondaryLoginId: str | None = None
    institution: InstitutionRef | None = None

    @property
    def institution_id(self) -> str | None:
        return self.institution.id if self.institution else None

    def credentials(self, *, need_login: bool) -> tuple[str, str]:
        """(login id, password); the login id may be "" where `need_login` is False."""
        if need_login and not self.loginId:
            raise not_supplied("Login ID parameter is required.", "loginId", "connection/loginId")
        if not self.password:
            raise not_supplied("Password parameter is required.", "password", "connection/password")
        return self.loginId or "", self.password


class MfaBody(BaseModel):
    model_config = ConfigDict(strict=True, populate_by_name=True)
    mfa_response: list[str] | None = None

    @classmethod
    def parse(cls, body: Any) -> list[str]:
        """The answers in `{"mfa-response": [...]}`, at least one."""
        if not isinstance(body, dict):
            raise not_valid("Posted MFA response is not in valid format.", pointer="mfa-response")
        try:
            answers = cls(mfa_response=body.get("mfa-response")).mfa_response
        except ValidationError:
            raise not_valid("mfa-response must be a list of strings.", "mfa-response") from None
        if not answers:
            raise not_supplied("mfa-response parameter is required.", "mfa-response")
        return answers


class WebhookBody(_Body):
    url: str | None = None
    name: str | None = None
    description: str | None = None
    # Basiq's own example sends one type as a string rather than a list.
    subscribedEvents: list[str] | str | None = None

    def event_types(self, known: tuple[str, ...]) -> list[str]:
        """The types subscribed to; none named means every type."""
        wanted = self.subscribedEvents
        types = [wanted] if isinstance(wanted, str) else list(wanted or [])
        unknown = [name for name in types if name not in known]
        if unknown:
            raise not_valid(
                f"Unsupported event types: {', '.join(unknown)}.",
                "subscribedEvents",
                "webhook/subscribedEvents",
            )
        return list(dict.fromkeys(types)) or list(known)

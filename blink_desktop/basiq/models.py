"""Basiq's answers as pydantic models, with the facts callers derive from them.

Unknown fields are ignored, so a newer Basiq that adds fields never breaks the app; a missing
required field is an `ApiResponseError` raised by the client.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class _Answer(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class Token(_Answer):
    access_token: str = Field(min_length=1)
    expires_in: float  # seconds, as Basiq said when it issued the token


class User(_Answer):
    id: str = Field(min_length=1)
    email: str | None = None
    mobile: str | None = None


class StepResult(_Answer):
    type: str | None = None
    code: str | None = None
    title: str | None = None
    detail: str | None = None
    url: str | None = None


class Step(_Answer):
    title: str
    status: str  # pending, in-progress, success, failed (and skipped for an MFA step)
    result: StepResult | None = None


class JobLinks(_Answer):
    self: str | None = None
    source: str | None = None


class Job(_Answer):
    id: str
    created: str | None = None
    updated: str | None = None
    steps: list[Step] = []
    links: JobLinks = JobLinks()

    @property
    def failed(self) -> bool:
        return any(step.status == "failed" for step in self.steps)

    @property
    def done(self) -> bool:
        """Failed, or every step succeeded or was skipped."""
        return self.failed or all(step.status in ("success", "skipped") for step in self.steps)

    @property
    def verified(self) -> bool:
        """The credentials were accepted, so the connection exists at Basiq."""
        return any(
            step.title == "verify-credentials" and step.status == "success" for step in self.steps
        )

    @property
    def connection_id(self) -> str | None:
        """The connection the job works on: the last segment of `links.source`."""
        source = (self.links.source or "").rstrip("/")
        return source.rsplit("/", 1)[-1] or None if source else None

    def failure(self) -> StepResult | None:
        return next((s.result for s in self.steps if s.status == "failed" and s.result), None)


class Ref(_Answer):
    id: str


SHOWN_ACCOUNTS = 4  # a summary names this many accounts, then says how many more there are
_SPACES = re.compile(r"\s+")
_NOT_DIGITS = re.compile(r"[^0-9A-Za-z]")


class Account(_Answer):
    id: str | None = None
    name: str | None = None
    accountNo: str | None = None

    @property
    def label(self) -> str:
        """'Everyday Account ••1234': its name, and the last four characters of its number."""
        name = _SPACES.sub(" ", self.name or "").strip()[:32].strip() or "Account"
        number = _NOT_DIGITS.sub("", self.accountNo or "")[-4:]
        return f"{name} ••{number}" if number else name


class AccountList(_Answer):
    data: list[Account] = []


class Connection(_Answer):
    id: str
    status: str | None = None
    institution: Ref
    createdDate: str | None = None
    lastUsed: str | None = None
    # One connection's answer lists its accounts (to a client token too); the list of a user's
    # connections does not.
    accounts: AccountList | None = None

    @property
    def summary(self) -> str | None:
        """What tells this connection from another at the same bank: its accounts, masked."""
        accounts = self.accounts.data if self.accounts else []
        if not accounts:
            return None
        parts = [account.label for account in accounts[:SHOWN_ACCOUNTS]]
        if len(accounts) > SHOWN_ACCOUNTS:
            parts.append(f"{len(accounts) - SHOWN_ACCOUNTS} more")
        return " · ".join(parts)


class ConnectionList(_Answer):
    data: list[Connection] = []


class LogoLinks(_Answer):
    square: str | None = None
    full: str | None = None
    self: str | None = None


class Logo(_Answer):
    links: LogoLinks = LogoLinks()


class Institution(_Answer):
    id: str
    name: str | None = None
    shortName: str | None = None
    logo: Logo = Logo()

    @property
    def display_name(self) -> str:
        return self.shortName or self.name or self.id

    @property
    def logo_url(self) -> str | None:
        links = self.logo.links
        return links.square or links.full or links.self


def error_detail(body: Any) -> str:
    """': title. detail' of the first error in Basiq's envelope, or '' when there is none."""
    try:
        first = body["data"][0]
        return f": {first.get('title') or first.get('code')}. {first.get('detail') or ''}".rstrip()
    except (KeyError, IndexError, TypeError, AttributeError):
        return ""

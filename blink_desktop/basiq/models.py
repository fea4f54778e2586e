"""Basiq's answers as pydantic models, with the facts callers derive from them.

Unknown fields are ignored, so a newer Basiq that adds fields never breaks the app; a missing
required field is an `ApiResponseError` raised by the client. Fields keep Basiq's names (`class`
is `class_`), so `model_dump(mode="json", by_alias=True)` gives Basiq's JSON back: amounts are
`Decimal`s from Basiq's strings and back to them, dates are UTC `datetime`s and an empty date
(a pending transaction's `postDate`) is None.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field


class _Answer(BaseModel):
    # Built at first use: a start reads a token, not the thirty shapes here (tenths of a second).
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True, defer_build=True)


def _blank_is_none(value: Any) -> Any:
    return None if isinstance(value, str) and not value.strip() else value


def _utc(moment: datetime | None) -> datetime | None:
    return moment.replace(tzinfo=UTC) if moment and moment.tzinfo is None else moment


Money = Annotated[Decimal | None, BeforeValidator(_blank_is_none)]
Moment = Annotated[datetime | None, BeforeValidator(_blank_is_none), AfterValidator(_utc)]
Day = Annotated[date | None, BeforeValidator(_blank_is_none)]


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


class AccountSummary(_Answer):
    """An account as one connection's answer lists it: enough to tell accounts apart."""

    id: str | None = None
    name: str | None = None
    accountNo: str | None = None

    @property
    def masked_number(self) -> str | None:
        """'••1234': the last four characters of its number; None when it has none."""
        tail = _NOT_DIGITS.sub("", self.accountNo or "")[-4:]
        return f"••{tail}" if tail else None

    @property
    def label(self) -> str:
        """'Everyday Account ••1234': its name, and its masked number."""
        name = _SPACES.sub(" ", self.name or "").strip()[:32].strip() or "Account"
        return f"{name} {self.masked_number}" if self.masked_number else name


class AccountList(_Answer):
    data: list[AccountSummary] = []


class Connection(_Answer):
    id: str
    status: str | None = None
    institution: Ref
    createdDate: str | None = None
    lastUsed: str | None = None
    method: str | None = None  # basiq-version 3.0: web or openbanking
    expiryDate: str | None = None  # 3.0, open banking: when the bank's authorisation ends
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


class AccountClass(_Answer):
    type: str | None = None  # transaction, savings, credit-card, mortgage, loan…
    product: str | None = None


class Interval(_Answer):
    from_: Day = Field(default=None, alias="from")
    to: Day = None


class AccountLinks(_Answer):
    self: str | None = None
    transactions: str | None = None
    institution: str | None = None


class TransactionLinks(_Answer):
    self: str | None = None
    account: str | None = None
    institution: str | None = None


class Account(AccountSummary):
    """`GET /users/{id}/accounts`: one account of a connection, with its balances."""

    id: str
    currency: str | None = None
    balance: Money = None  # a card's or a loan's is negative
    availableFunds: Money = None
    class_: AccountClass = Field(default=AccountClass(), alias="class")
    accountHolder: str | None = None
    connection: str | None = None
    institution: str | None = None
    lastUpdated: Moment = None
    status: str | None = None  # available or unavailable
    transactionIntervals: list[Interval] = []
    links: AccountLinks = AccountLinks()

    @property
    def kind(self) -> str | None:
        return self.class_.type


class SubClass(_Answer):
    code: str | None = None
    title: str | None = None


class Merchant(_Answer):
    businessName: str | None = None


class Enrich(_Answer):
    merchant: Merchant | None = None
    location: dict[str, Any] | None = None
    category: dict[str, Any] | None = None


class Transaction(_Answer):
    """`GET /users/{id}/transactions`: money in (credit) or out (debit) of one account."""

    id: str
    status: str | None = None  # pending or posted
    description: str = ""
    amount: Decimal  # negative: money out
    balance: Money = None  # the account's, after this transaction
    direction: str | None = None  # credit or debit
    class_: str | None = Field(default=None, alias="class")  # payment, transfer, bank-fee…
    subClass: SubClass | None = None
    account: str
    connection: str | None = None
    institution: str | None = None
    postDate: Moment = None  # None while pending
    transactionDate: Moment = None
    enrich: Enrich | None = None
    links: TransactionLinks = TransactionLinks()

    @property
    def pending(self) -> bool:
        return self.status == "pending"

    @property
    def credit(self) -> bool:
        """Money in; Basiq's direction, or else the amount's sign."""
        return self.direction == "credit" if self.direction else self.amount > 0

    @property
    def date(self) -> datetime | None:
        """When it was posted, or made while it is pending."""
        return self.postDate or self.transactionDate

    @property
    def category(self) -> str | None:
        """What it was spent on, where Basiq says: its subClass's title."""
        return (self.subClass.title or None) if self.subClass else None


class PageLinks(_Answer):
    self: str | None = None
    next: str | None = None


class AccountPage(_Answer):
    data: list[Account] = []
    links: PageLinks = PageLinks()


class TransactionPage(_Answer):
    count: int | None = None  # over every page
    size: int | None = None
    data: list[Transaction] = []
    links: PageLinks = PageLinks()


class JobList(_Answer):
    data: list[Job] = []


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
        title = str(first.get("title") or first.get("code")).rstrip(".")
        return f": {title}. {first.get('detail') or ''}".rstrip()
    except (KeyError, IndexError, TypeError, AttributeError):
        return ""

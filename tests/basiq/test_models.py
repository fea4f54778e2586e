"""Basiq's answers as models: the facts derived from a job, an institution's name and logo."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from blink_desktop.basiq.models import (
    Account,
    Connection,
    Institution,
    Job,
    Transaction,
    error_detail,
)


def job(*statuses: str, source: str | None = None) -> Job:
    titles = ("verify-credentials", "retrieve-accounts", "retrieve-transactions")
    body: dict[str, Any] = {
        "type": "job",
        "id": "j1",
        "steps": [
            {"title": title, "status": status, "result": None}
            for title, status in zip(titles, statuses, strict=False)
        ],
        "links": {"self": "https://x/jobs/j1"},
        "unknownField": {"ignored": True},
    }
    if source is not None:
        body["links"]["source"] = source
    return Job.model_validate(body)


@pytest.mark.parametrize(
    ("statuses", "done", "failed"),
    [
        (("in-progress", "pending", "pending"), False, False),
        (("success", "in-progress", "pending"), False, False),
        (("success", "success", "success"), True, False),
        (("success", "skipped", "success"), True, False),
        (("failed", "pending", "pending"), True, True),
        (("success", "success", "failed"), True, True),
    ],
)
def test_a_job_is_done_when_it_failed_or_every_step_succeeded(
    statuses: tuple[str, ...], done: bool, failed: bool
) -> None:
    assert (job(*statuses).done, job(*statuses).failed) == (done, failed)


def test_the_connection_id_is_the_last_segment_of_the_source_link() -> None:
    source = "https://au-api.basiq.io/users/u-1/connections/c-9"
    assert job("success", source=source).connection_id == "c-9"
    assert job("success", source=source + "/").connection_id == "c-9"
    assert job("in-progress").connection_id is None
    assert job("in-progress", source="").connection_id is None


def test_a_failed_steps_result_is_the_failure() -> None:
    failed = Job.model_validate(
        {
            "id": "j",
            "steps": [
                {
                    "title": "verify-credentials",
                    "status": "failed",
                    "result": {"code": "invalid-credentials", "title": "Cannot login"},
                }
            ],
        }
    )
    failure = failed.failure()
    assert failure is not None and failure.code == "invalid-credentials"
    assert job("success").failure() is None


def test_an_institution_is_named_by_its_short_name_then_name_then_id() -> None:
    full = {"id": "AU1", "name": "Hooli Bank", "shortName": "Hooli"}
    assert Institution.model_validate(full).display_name == "Hooli"
    assert Institution.model_validate({"id": "AU1", "name": "Hooli Bank"}).display_name == (
        "Hooli Bank"
    )
    assert Institution.model_validate({"id": "AU1"}).display_name == "AU1"


def test_the_logo_falls_back_as_blink_does() -> None:
    def logo(links: dict[str, str]) -> str | None:
        return Institution.model_validate({"id": "AU1", "logo": {"links": links}}).logo_url

    assert logo({"square": "s", "full": "f", "self": "x"}) == "s"
    assert logo({"full": "f", "self": "x"}) == "f"
    assert logo({"self": "x"}) == "x"
    assert logo({}) is None


def test_error_detail_reads_the_first_error_of_basiqs_envelope() -> None:
    body = {"type": "list", "data": [{"code": "c", "title": "Title", "detail": "More."}]}
    assert error_detail(body) == ": Title. More."
    assert error_detail({"data": [{"code": "c"}]}) == ": c."
    nonsense: object
    for nonsense in ({}, {"data": []}, {"data": "x"}, None, []):
        assert error_detail(nonsense) == ""


def test_a_job_is_verified_once_its_credentials_step_succeeded() -> None:
    assert job("success", "in-progress", "pending").verified is True
    assert job("in-progress", "pending", "pending").verified is False
    assert job("failed", "pending", "pending").verified is False
    assert Job.model_validate({"id": "j"}).verified is False


def connection_with(*accounts: dict[str, Any]) -> Connection:
    body = {"id": "c", "institution": {"id": "AU00000"}, "accounts": {"data": list(accounts)}}
    return Connection.model_validate(body)


def test_a_connections_summary_names_its_accounts_with_masked_numbers() -> None:
    summary = connection_with(
        {"name": "Everyday Account", "accountNo": "062000 12341234"},
        {"name": "Savings", "accountNo": "5678"},
        {"name": "Card", "accountNo": "3"},  # Basiq's sandbox numbers are this short
        {"name": "  Loan\n  Account  "},
    ).summary
    assert summary == "Everyday Account ••1234 · Savings ••5678 · Card ••3 · Loan Account"
    assert connection_with().summary is None
    nameless = connection_with({"accountNo": "123456 7890"}, {"name": "", "accountNo": "-"})
    assert nameless.summary == "Account ••7890 · Account"
    bare = Connection.model_validate({"id": "c", "institution": {"id": "AU1"}})
    assert bare.summary is None
    many = connection_with(*({"name": f"Account {n}", "accountNo": f"00{n}"} for n in range(7)))
    assert many.summary is not None and many.summary.endswith(" · 3 more")
    long = connection_with({"name": "N" * 500, "accountNo": "9" * 500})
    assert long.summary is not None and len(long.summary) < 80
    assert "9" * 5 not in long.summary  # only the last four digits, whatever Basiq sends


def test_a_transaction_reads_basiqs_strings_and_empty_dates() -> None:
    transaction = Transaction.model_validate(
        {
            "type": "transaction",
            "id": "t1",
            "status": "pending",
            "description": "HARBOUR CAFE",
            "amount": "-12.50",
            "balance": "",
            "class": "payment",
            "subClass": {"code": "451", "title": "Cafes and Restaurants"},
            "account": "a1",
            "postDate": "",
            "transactionDate": "2024-03-01T08:15:00",  # no zone: Basiq's dates are UTC
            "somethingNew": [1, 2],
        }
    )
    assert transaction.amount == Decimal("-12.50") and transaction.balance is None
    assert transaction.postDate is None and transaction.pending
    assert transaction.date == datetime(2024, 3, 1, 8, 15, tzinfo=UTC)
    assert not transaction.credit  # no direction: the amount's sign says
    assert transaction.class_ == "payment"
    assert transaction.category == "Cafes and Restaurants"
    shown = transaction.model_dump(mode="json", by_alias=True)
    assert (shown["amount"], shown["class"], shown["transactionDate"]) == (
        "-12.50",
        "payment",
        "2024-03-01T08:15:00Z",
    )


@pytest.mark.parametrize(
    "body",
    [
        {"id": "t1", "account": "a1"},  # no amount
        {"id": "t1", "account": "a1", "amount": "twelve"},
        {"id": "t1", "amount": "1.00"},  # no account
        {"id": "t1", "account": "a1", "amount": "1.00", "postDate": "yesterday"},
    ],
)
def test_a_transaction_without_what_basiq_always_sends_is_refused(body: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        Transaction.model_validate(body)


def test_an_account_has_its_class_and_money() -> None:
    account = Account.model_validate(
        {
            "id": "a1",
            "name": "Low Rate Mastercard",
            "accountNo": "123456 12345678",
            "balance": "-356.50",
            "availableFunds": "5643.50",
            "class": {"type": "credit-card", "product": "Low Rate Card"},
            "transactionIntervals": [{"from": "2024-01-01", "to": "2024-03-31"}],
        }
    )
    assert (account.kind, account.balance, account.label) == (
        "credit-card",
        Decimal("-356.50"),
        "Low Rate Mastercard ••5678",
    )
    assert account.transactionIntervals[0].from_ == date(2024, 1, 1)
    assert Account.model_validate({"id": "a2"}).kind is None

"""Accounts and transactions for a connection: realistic, and the same for the same ids."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from blink_desktop.emulator.links import Links

_NAMESPACE = uuid.UUID("6f1c5d0e-3b7a-4c55-9a51-0c8e2f1b7d42")
DAYS = 90

# (class type, product, account name, opening balance range, transactions per 90 days)
_ACCOUNTS = [
    ("transaction", "Everyday Account", "Everyday Account", (800, 6000), (140, 200)),
    ("savings", "Online Saver", "Bonus Saver", (2000, 30000), (12, 24)),
    ("credit-card", "Low Rate Card", "Low Rate Mastercard", (-3500, -200), (50, 90)),
    ("mortgage", "Standard Variable Home Loan", "Home Loan", (-650000, -250000), (3, 3)),
]

# (description, class, subClass code, subClass title, amount range)
_SPENDING = [
    ("CORNER GROCER SURRY HILLS", "payment", "411", "Supermarket and Grocery Stores", (12, 180)),
    ("METRO TRANSIT TOPUP", "payment", "462", "Urban Bus Transport", (10, 50)),
    ("HARBOUR CAFE", "payment", "451", "Cafes and Restaurants", (5, 45)),
    ("PETROL STOP 24/7", "payment", "400", "Fuel Retailing", (40, 110)),
    ("BRIGHTLINE ENERGY", "payment", "261", "Electricity Supply", (90, 320)),
    ("STREAMBOX SUBSCRIPTION", "payment", "701", "Computer System Design", (10, 25)),
    ("CHEMIST CORNER", "payment", "427", "Pharmaceutical Retailing", (8, 70)),
    ("ATM WITHDRAWAL", "cash-withdrawal", "", "", (20, 300)),
]
_INCOME = ("SALARY ACME PTY LTD", "transfer", "", "", (2200, 4200))


def _uuid(*parts: object) -> str:
    return str(uuid.uuid5(_NAMESPACE, ":".join(map(str, parts))))


def _money(value: float) -> str:
    return f"{value:.2f}"


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def build(
    connection: dict[str, Any], institution: dict[str, Any], holder: str, links: Links
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(accounts, transactions) for a connection, linked on the emulator's base URL."""
    rng = random.Random(connection["id"])
    user_id, connection_id = connection["user_id"], connection["id"]
    institution_id = institution["id"]
    currency = "NZD" if institution.get("country") == "New Zealand" else "AUD"
    anchor = datetime.fromtimestamp(connection["created"], UTC).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    kinds = _ACCOUNTS[: 2 + rng.randrange(3)]
    accounts: list[dict[str, Any]] = []
    transactions: list[dict[str, Any]] = []
    for index, (kind, product, name, opening_range, count_range) in enumerate(kinds):
        account_id = _uuid(connection_id, "account", index)
        opening = round(rng.uniform(*opening_range), 2)
        rows = _transactions(rng, kind, opening, rng.randint(*count_range), anchor)
        balance = float(rows[-1][3]) if rows else opening
        limit = 6000.0 if kind == "credit-card" else 0.0
        accounts.append(
            {
                "type": "account",
                "id": account_id,
                "accountNo": f"{rng.randint(10, 99)}{rng.randint(1000, 9999)}"
                f" {rng.randint(10000000, 99999999)}",
                "name": name,
                "currency": currency,
                "balance": _money(balance),
                "availableFunds": _money(max(balance + limit, 0.0) if kind != "mortgage" else 0),
                "lastUpdated": _iso(anchor + timedelta(hours=9)),
                "class": {"type": kind, "product": product},
                "accountHolder": holder,
                "connection": connection_id,
                "institution": institution_id,
                "status": "available",
                "transactionIntervals": [
                    {
                        "from": (anchor - timedelta(days=DAYS)).date().isoformat(),
                        "to": anchor.date().isoformat(),
                    }
                ],
                "links": {
                    "self": links.account(user_id, account_id),
                    "transactions": links.transactions(user_id, f"account.id.eq('{account_id}')"),
                    "institution": links.institution(institution_id),
                },
            }
        )
        for number, (moment, spec, amount, running, pending) in enumerate(rows):
            transaction_id = _uuid(connection_id, account_id, number)
            description, klass, code, title, _ = spec
            transactions.append(
                {
                    "type": "transaction",
                    "id": transaction_id,
                    "status": "pending" if pending else "posted",
                    "description": description,
                    "amount": _money(amount),
                    "account": account_id,
                    "balance": running,
                    "direction": "credit" if amount > 0 else "debit",
                    "class": klass,
                    "subClass": {"code": code, "title": title} if code else None,
                    "institution": institution_id,
                    "connection": connection_id,
                    "transactionDate": _iso(moment) if klass == "payment" else "",
                    "postDate": "" if pending else _iso(moment),
                    "enrich": _enrich(description, code, title) if klass == "payment" else None,
                    "links": {
                        "self": links.transaction(user_id, transaction_id),
                        "account": links.account(user_id, account_id),
                        "institution": links.institution(institution_id),
                    },
                }
            )
    return accounts, transactions


def _transactions(
    rng: random.Random, kind: str, opening: float, count: int, anchor: datetime
) -> list[tuple[datetime, tuple[str, str, str, str, tuple[int, int]], float, str, bool]]:
    start = anchor - timedelta(days=DAYS)
    moments = sorted(start + timedelta(seconds=rng.randrange(DAYS * 86400)) for _ in range(count))
    if kind == "mortgage":
        moments = [anchor - timedelta(days=30 * n + 2) for n in (2, 1, 0)]
    balance = opening
    rows = []
    for position, moment in enumerate(moments):
        spec, amount = _pick(rng, kind, position)
        balance = round(balance + amount, 2)
        pending = position >= len(moments) - 2 and kind in ("transaction", "credit-card")
        rows.append((moment, spec, amount, _money(balance), pending))
    return rows


def _pick(
    rng: random.Random, kind: str, position: int
) -> tuple[tuple[str, str, str, str, tuple[int, int]], float]:
    if kind == "mortgage":
        return ("LOAN REPAYMENT", "loan-repayment", "", "", (1800, 2600)), round(
            rng.uniform(1800, 2600), 2
        )
    if kind == "savings":
        if rng.random() < 0.3:
            return ("INTEREST", "interest", "", "", (1, 60)), round(rng.uniform(1, 60), 2)
        amount = round(rng.uniform(50, 900), 2)
        sign = 1 if rng.random() < 0.7 else -1
        return ("TRANSFER FROM EVERYDAY", "transfer", "", "", (50, 900)), sign * amount
    if kind == "transaction" and position % 14 == 0:
        return _INCOME, round(rng.uniform(*_INCOME[4]), 2)
    if kind == "credit-card" and position % 20 == 19:
        return ("PAYMENT THANK YOU", "transfer", "", "", (200, 1500)), round(
            rng.uniform(200, 1500), 2
        )
    if rng.random() < 0.02:
        return ("MONTHLY ACCOUNT FEE", "bank-fee", "", "", (5, 5)), -5.0
    spec = _SPENDING[rng.randrange(len(_SPENDING))]
    return spec, -round(rng.uniform(*spec[4]), 2)


def _enrich(description: str, code: str, title: str) -> dict[str, Any]:
    return {
        "merchant": {"businessName": description.title()},
        "location": {"country": "Australia"},
        "category": {"anzsic": {"class": {"code": code, "title": title}}},
    }

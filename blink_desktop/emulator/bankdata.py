"""Accounts and transactions for a connection: realistic, and the same for the same ids.

A connection's bank holds 90 days of history before the day it was made, then new movements
every day since, each day drawn from its own seed: what the bank holds is a function of the
connection and the moment it is read, so time passing (on the emulator's clock) brings new rows
and changes no old one, but for pending ones posting."""

from __future__ import annotations

import math
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
    connection: dict[str, Any],
    institution: dict[str, Any],
    holder: str,
    links: Links,
    as_of: float,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(accounts, transactions) for a connection as its bank had them at `as_of` (epoch
    seconds), linked on the emulator's base URL: 90 days before the connection was made, then
    each day's since, up to `as_of`."""
    rng = random.Random(connection["id"])
    user_id, connection_id = connection["user_id"], connection["id"]
    institution_id = institution["id"]
    currency = "NZD" if institution.get("country") == "New Zealand" else "AUD"
    anchor = datetime.fromtimestamp(connection["created"], UTC).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    now = datetime.fromtimestamp(as_of, UTC)
    kinds = _ACCOUNTS[: 2 + rng.randrange(3)]
    accounts: list[dict[str, Any]] = []
    transactions: list[dict[str, Any]] = []
    for index, (kind, product, name, opening_range, count_range) in enumerate(kinds):
        account_id = _uuid(connection_id, "account", index)
        opening = round(rng.uniform(*opening_range), 2)
        history = _history(rng, kind, rng.randint(*count_range), anchor)
        history += _since(f"{connection_id}:{index}", kind, count_range, anchor, now, len(history))
        rows = _running(history, kind, opening)
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
                "lastUpdated": _iso(now),
                "class": {"type": kind, "product": product},
                "accountHolder": holder,
                "connection": connection_id,
                "institution": institution_id,
                "status": "available",
                "transactionIntervals": [
                    {
                        "from": (anchor - timedelta(days=DAYS)).date().isoformat(),
                        "to": now.date().isoformat(),
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
                    # A pending one has no postDate yet: its transactionDate is its only date.
                    "transactionDate": _iso(moment) if klass == "payment" or pending else "",
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


Spec = tuple[str, str, str, str, tuple[int, int]]
Movement = tuple[datetime, Spec, float]  # when, what, how much


def _history(rng: random.Random, kind: str, count: int, anchor: datetime) -> list[Movement]:
    """The 90 days before the day the connection was made."""
    start = anchor - timedelta(days=DAYS)
    moments = sorted(start + timedelta(seconds=rng.randrange(DAYS * 86400)) for _ in range(count))
    if kind == "mortgage":
        moments = [anchor - timedelta(days=30 * n + 2) for n in (2, 1, 0)]
    return [(moment, *_pick(rng, kind, position)) for position, moment in enumerate(moments)]


def _since(
    seed: str,
    kind: str,
    count_range: tuple[int, int],
    anchor: datetime,
    now: datetime,
    position: int,
) -> list[Movement]:
    """Each day's movements from the day the connection was made up to `now`.

    Each day draws from its own generator, so a day's movements are the same whenever they are
    read, and reading later only adds to them."""
    per_day = sum(count_range) / 2 / DAYS
    draws = max(1, math.ceil(per_day * 2))
    movements: list[Movement] = []
    for day in range((now - anchor).days + 1):
        start = anchor + timedelta(days=day)
        rng = random.Random(f"{seed}:{day}")
        if kind == "mortgage":  # monthly, on from the three repayments of the history
            moments = [start] if (day + 2) % 30 == 0 else []
        else:
            count = sum(rng.random() < per_day / draws for _ in range(draws))
            moments = sorted(start + timedelta(seconds=rng.randrange(86400)) for _ in range(count))
        for moment in moments:
            if moment > now:
                break
            movements.append((moment, *_pick(rng, kind, position)))
            position += 1
    return movements


def _running(
    movements: list[Movement], kind: str, opening: float
) -> list[tuple[datetime, Spec, float, str, bool]]:
    """Each movement with the balance after it; the last two of a card or an everyday account
    are still pending."""
    balance = opening
    rows = []
    for position, (moment, spec, amount) in enumerate(movements):
        balance = round(balance + amount, 2)
        pending = position >= len(movements) - 2 and kind in ("transaction", "credit-card")
        rows.append((moment, spec, amount, _money(balance), pending))
    return rows


def _pick(rng: random.Random, kind: str, position: int) -> tuple[Spec, float]:
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

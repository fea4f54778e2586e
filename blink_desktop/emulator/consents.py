"""Consents, as Basiq 3.0 keeps them: a person's agreement to share their data with the
application, given in the Consent UI.

One consent per user covers all of that user's connections, web and open banking. The
emulator's application has one consent policy (`POLICY`). `accept` makes the user's consent the
first time, and later extends the active one by another `DURATION_DAYS`; `revoke` ends it and
deletes every connection of the user, with their data. A consent past its expiry date reads as
expired. Each change is told to `Events` (consent.created, consent.updated, consent.revoked).
"""

from __future__ import annotations

import uuid
from typing import Any

from blink_desktop.emulator.clock import Clock
from blink_desktop.emulator.events import Events
from blink_desktop.emulator.links import Links
from blink_desktop.emulator.problems import not_found
from blink_desktop.emulator.rules import Rules
from blink_desktop.emulator.state import Row, State
from blink_desktop.emulator.views import iso

Json = dict[str, Any]
DURATION_DAYS = 365
DAY = 86400


def _permission(
    scope: str, entity: str, name: str, description: str, attributes: list[str], why: str
) -> Json:
    return {
        "scope": scope,
        "required": True,
        "consented": True,
        "entity": entity,
        "information": {"name": name, "description": description, "attributeList": attributes},
        "purpose": {"title": name, "description": why},
    }


POLICY: Json = {
    "purpose": {
        "primary": {
            "title": "Connect your bank accounts",
            "description": "To show your accounts, balances and transactions in one place.",
        },
        "other": None,
    },
    "data": {
        "retainData": False,
        "initialRetrievalDays": 90,
        "organisation": None,
        "permissions": [
            _permission(
                "account.basic",
                "account",
                "Account name, type and balance",
                "The list of your accounts and what is in each.",
                ["Name of account", "Type of account", "Account balance"],
                "To list your accounts with their balances.",
            ),
            _permission(
                "account.detail",
                "account",
                "Account numbers and features",
                "The numbers of your accounts and their terms.",
                ["Account number", "Interest rates", "Fees", "Discounts", "Account terms"],
                "To tell two accounts at one bank apart.",
            ),
            _permission(
                "transaction.detail",
                "transaction",
                "Transaction details",
                "What went in and out of your accounts.",
                ["Incoming and outgoing transactions", "Amounts", "Dates", "Descriptions"],
                "To show where your money goes.",
            ),
            _permission(
                "customer.person.detail",
                "connection",
                "Name and contact details",
                "Who you are, as your bank knows you.",
                ["Name", "Phone", "Email address", "Mail address"],
                "To check that the accounts are yours.",
            ),
        ],
    },
}


class Consents:
    def __init__(self, state: State, *, clock: Clock, rules: Rules, events: Events) -> None:
        self.state = state
        self.clock = clock
        self.rules = rules
        self.events = events

    def of(self, user_id: str) -> list[Row]:
        """The user's consents, newest first: the active one and those revoked or expired."""
        self.rules.user(user_id)
        return self.state.consents(user_id)

    def active(self, user_id: str) -> Row | None:
        now = self.clock()
        return next((row for row in self.of(user_id) if status(row, now) == "active"), None)

    def accept(self, user_id: str) -> Row:
        """The person agreed: a new consent, or the active one extended from now."""
        now = self.clock()
        expires = now + DURATION_DAYS * DAY
        current = self.active(user_id)
        if current is not None:
            self.state.update_consent(current["id"], updated=now, expires=expires)
            event_type, consent_id = "consent.updated", current["id"]
        else:
            consent_id = str(uuid.uuid4())
            self.state.add_consent(
                {
                    "id": consent_id,
                    "user_id": user_id,
                    "status": "active",
                    "created": now,
                    "updated": now,
                    "expires": expires,
                }
            )
            event_type = "consent.created"
        row = self.get(user_id, consent_id)
        self._tell(event_type, row)
        return row

    def get(self, user_id: str, consent_id: str) -> Row:
        row = next((row for row in self.of(user_id) if row["id"] == consent_id), None)
        if row is None:
            raise not_found("consent", "consentId")
        return row

    def revoke(self, user_id: str, consent_id: str) -> None:
        """End the consent: every connection of the user goes, with its data. Revoking a
        consent that is no longer active changes nothing."""
        row = self.get(user_id, consent_id)
        if row["status"] == "revoked":
            return
        now = self.clock()
        self.state.update_consent(consent_id, status="revoked", updated=now, revoked=now)
        for connection in self.rules.connections(user_id):
            self.rules.delete_connection(user_id, connection["id"])
        self._tell("consent.revoked", self.get(user_id, consent_id))

    def _tell(self, event_type: str, row: Row) -> None:
        links = self.events.links
        data = view(row, self.clock(), links)
        self.events.emit(event_type, row["user_id"], links.consent(row["user_id"], row["id"]), data)


def status(row: Row, now: float) -> str:
    if row["status"] == "active" and row["expires"] <= now:
        return "expired"
    return str(row["status"])


def view(row: Row, now: float, links: Links) -> Json:
    shown: Json = {
        "type": "consent",
        "id": row["id"],
        "created": iso(row["created"]),
        "updated": iso(row["updated"]),
        "expiryDate": iso(row["expires"]),
        "origin": "user",
        "status": status(row, now),
    }
    if row["revoked"] is not None:
        shown["revoked"] = iso(row["revoked"])
    shown |= {
        "purpose": POLICY["purpose"],
        "data": POLICY["data"],
        "links": {
            "self": links.consent(row["user_id"], row["id"]),
            "consentPolicy": links.consent_policy(),
            "latestConsentPolicy": links.consent_policy(),
        },
    }
    return shown


def listed(user_id: str, rows: list[Row], now: float, links: Links) -> Json:
    return {
        "type": "list",
        "size": len(rows),
        "data": [view(row, now, links) for row in rows],
        "links": {"self": links.consents(user_id)},
    }


def policy(links: Links) -> Json:
    """The application's consent policy, at the address each consent links to."""
    return {
        "type": "consent-policy",
        "duration": {"days": DURATION_DAYS},
        **POLICY,
        "links": {"self": links.consent_policy()},
    }

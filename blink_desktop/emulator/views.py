"""The JSON bodies the emulator answers with, as Basiq's API shapes them.

Pure functions of rows of the state, the time `now` and the request's `Links`; they change
nothing. `v3` asks for basiq-version 3.0's shapes (a connection's `method` and `expiryDate`, a
job's `jobType`, and `links.source` only once the job's connection exists); without it the
answers are exactly those of versions 1.0 to 2.1. Accounts and transactions are built from a
connection as its job has retrieved them (bankdata.py), then filtered with Basiq's filter
grammar and paged.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from blink_desktop.emulator import bankdata, catalogue, filters, scenarios
from blink_desktop.emulator.jobs import progress
from blink_desktop.emulator.links import Links
from blink_desktop.emulator.problems import not_found, not_valid
from blink_desktop.emulator.state import Row

Json = dict[str, Any]
Fields = Mapping[str, Callable[[Any], Any]]

CONNECTION_FIELDS: Fields = {
    "connection.id": lambda item: item["id"],
    "connection.status": lambda item: item["status"],
    "institution.id": lambda item: item["institution"]["id"],
}
ACCOUNT_FIELDS: Fields = {
    "account.id": lambda item: item["id"],
    "account.type": lambda item: item["class"]["type"],
    "connection.id": lambda item: item["connection"],
    "institution.id": lambda item: item["institution"],
}
TRANSACTION_FIELDS: Fields = {
    "account.id": lambda item: item["account"],
    "connection.id": lambda item: item["connection"],
    "institution.id": lambda item: item["institution"],
    "transaction.postDate": lambda item: item["postDate"][:10] or None,
    "transaction.status": lambda item: item["status"],
    "transaction.direction": lambda item: item["direction"],
    "transaction.class": lambda item: item["class"],
}
MAX_PAGE = 500


def iso(moment: float | None) -> str | None:
    if moment is None:
        return None
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def token(access_token: str, ttl: int) -> Json:
    return {"access_token": access_token, "token_type": "Bearer", "expires_in": ttl}


# users
def new_user(user: Row, links: Links) -> Json:
    return {
        "type": "user",
        "id": user["id"],
        "email": user["email"] or "",
        "mobile": user["mobile"] or "",
        **user["details"],
        "links": {"self": links.user(user["id"])},
    }


def user(user: Row, connections: list[Row], links: Links) -> Json:
    user_id = user["id"]
    accounts = [account for row in connections for account in retrieved(row, links)[0]]
    return {
        "type": "user",
        "id": user_id,
        "email": user["email"] or "",
        "mobile": user["mobile"] or "",
        "name": "",
        **user["details"],
        "connections": {
            "type": "list",
            "count": len(connections),
            "data": [
                {
                    "type": "connection",
                    "id": row["id"],
                    "links": {"self": links.connection(user_id, row["id"])},
                }
                for row in connections
            ],
        },
        "accounts": {
            "type": "list",
            "count": len(accounts),
            "data": [
                {
                    "type": "account",
                    "id": account["id"],
                    "links": {"self": account["links"]["self"]},
                }
                for account in accounts
            ],
        },
        "links": {
            "self": links.user(user_id),
            "accounts": links.accounts(user_id),
            "connections": links.connections(user_id),
            "transactions": links.transactions(user_id),
            "auth_link": None,
        },
    }


# connections
def connection(row: Row, links: Links, *, server: bool, v3: bool = False) -> Json:
    """A connection; `server` adds what only a server token sees (status and dates)."""
    user_id, connection_id = row["user_id"], row["id"]
    institution = _institution(row["institution_id"])
    only_this = f"connection.id.eq('{connection_id}')"
    result: Json = {
        "type": "connection",
        "id": connection_id,
        "mfaEnabled": institution["authorization"] in catalogue.MFA_AUTHORIZATIONS,
        "institution": {
            "type": "institution",
            "id": institution["id"],
            "links": {"self": links.institution(institution["id"])},
        },
        "accounts": {"type": "list", "data": retrieved(row, links)[0]},
        "links": {
            "self": links.connection(user_id, connection_id),
            "accounts": links.accounts(user_id, only_this),
            "transactions": links.transactions(user_id, only_this),
            "user": links.user(user_id),
        },
    }
    if v3:
        result["method"] = row["method"]
        if row["method"] == "openbanking":
            result["expiryDate"] = iso(row["expires"])
    if server:
        result["status"] = row["status"]
        result["createdDate"] = iso(row["created"])
        result["lastUsed"] = iso(row["last_used"])
    if row["last_used"] is not None:
        result["profile"] = _profile(row["login_id"])
    return result


def connections(
    user_id: str, rows: list[Row], filter_text: str | None, links: Links, *, v3: bool = False
) -> Json:
    shown = [connection(row, links, server=True, v3=v3) for row in rows]
    shown = filtered(shown, filter_text, CONNECTION_FIELDS)
    return {
        "type": "list",
        "count": len(shown),
        "data": shown,
        "links": {"self": links.connections(user_id)},
    }


def _profile(login_id: str) -> Json:
    full = scenarios.full_name(login_id)
    first, _, last = full.partition(" ")
    return {
        "fullName": full,
        "firstName": first,
        "lastName": last,
        "middleName": "",
        "phoneNumbers": ["+61 400 000 000"],
        "emailAddresses": [f"{login_id.lower()}@example.com"],
        "physicalAddresses": [],
    }


# jobs
def job_started(job_id: str, links: Links) -> Json:
    return {"type": "job", "id": job_id, "links": {"self": links.job(job_id)}}


def jobs_started(job_ids: list[str], links: Links) -> Json:
    return {"type": "list", "data": [job_started(job_id, links) for job_id in job_ids]}


def job(row: Row, now: float, links: Links, *, v3: bool = False) -> Json:
    current = progress(row, now, links)
    own = {"self": links.job(row["id"])}
    # Under 3.0 a first login's connection exists only once its credentials are verified.
    if not v3 or row["kind"] != "create" or current.verified is not None:
        own["source"] = links.connection(row["user_id"], row["connection_id"])
    shown: Json = {"type": "job", "id": row["id"]}
    if v3:
        shown["jobType"] = "connection"
    shown |= {
        "created": iso(row["created"]),
        "updated": iso(current.updated),
        "steps": current.steps,
        "links": own,
    }
    return shown


def jobs(user_id: str, rows: list[Row], now: float, links: Links, *, v3: bool = False) -> Json:
    return {
        "type": "list",
        "data": [job(row, now, links, v3=v3) for row in rows],
        "links": {"self": links.jobs(user_id)},
    }


# accounts and transactions
def retrieved(row: Row, links: Links) -> tuple[list[Json], list[Json]]:
    """(accounts, transactions) of a connection, each once its job has retrieved them."""
    if row["accounts_at"] is None:
        return [], []
    # As the bank had them when transactions were last retrieved: a refresh's accounts step
    # alone changes nothing, so balances always agree with the transactions shown.
    as_of = row["transactions_at"] or row["accounts_at"]
    accounts, transactions = _held(
        row["id"],
        row["user_id"],
        row["created"],
        row["institution_id"],
        row["login_id"],
        links,
        as_of,
    )
    return accounts, transactions if row["transactions_at"] is not None else []


# A retrieval's data is kept until 16 newer ones are: years of one bank take some 20 MB.
@functools.lru_cache(maxsize=16)
def _held(
    connection_id: str,
    user_id: str,
    created: float,
    institution_id: str,
    login_id: str,
    links: Links,
    as_of: float,
) -> tuple[list[Json], list[Json]]:
    """What the bank holds, built once for the pages of one listing (years of it take a
    noticeable fraction of a second). Shared between answers: read it, never change it."""
    connection = {"id": connection_id, "user_id": user_id, "created": created}
    holder = scenarios.full_name(login_id)
    return bankdata.build(connection, _institution(institution_id), holder, links, as_of)


def accounts(user_id: str, rows: list[Row], filter_text: str | None, links: Links) -> Json:
    shown = [item for row in rows for item in retrieved(row, links)[0]]
    shown = filtered(shown, filter_text, ACCOUNT_FIELDS)
    return {
        "type": "list",
        "count": len(shown),
        "data": shown,
        "links": {"self": links.accounts(user_id)},
    }


def account(rows: list[Row], account_id: str, links: Links) -> Json:
    for row in rows:
        for item in retrieved(row, links)[0]:
            if item["id"] == account_id:
                return item
    raise not_found("account")


def transactions(
    user_id: str,
    rows: list[Row],
    links: Links,
    *,
    filter_text: str | None,
    limit_text: str | None,
    cursor: str | None,
) -> Json:
    """One page of the user's transactions, from `cursor` (the `next` of the previous page)."""
    try:
        limit = int(limit_text) if limit_text else MAX_PAGE
        offset = int(cursor) if cursor else 0
    except ValueError:
        raise not_valid("limit and next must be whole numbers.", "limit") from None
    if not 1 <= limit <= MAX_PAGE or offset < 0:
        raise not_valid("limit must be between 1 and 500.", "limit")
    shown = [item for row in rows for item in retrieved(row, links)[1]]
    shown = filtered(shown, filter_text, TRANSACTION_FIELDS)
    # By account, then pending first, then newest first, as Basiq sorts them.
    shown.sort(key=lambda item: item["transactionDate"] or item["postDate"], reverse=True)
    shown.sort(key=lambda item: (item["account"], item["status"] != "pending"))
    page = shown[offset : offset + limit]
    own: dict[str, str] = {"self": links.transactions(user_id)}
    if offset + limit < len(shown):
        more = f"limit={limit}&next={offset + limit}"
        if filter_text:
            more += "&filter=" + quote(filter_text, safe="")
        own["next"] = f"{links.transactions(user_id)}?{more}"
    return {"type": "list", "count": len(shown), "size": len(page), "data": page, "links": own}


def transaction(rows: list[Row], transaction_id: str, links: Links) -> Json:
    for row in rows:
        for item in retrieved(row, links)[1]:
            if item["id"] == transaction_id:
                return item
    raise not_found("transaction")


# institutions
def institutions(filter_text: str | None, links: Links) -> Json:
    shown = filtered(catalogue.institutions(links), filter_text, catalogue.FIELDS)
    return {
        "type": "list",
        "totalCount": len(shown),
        "data": shown,
        "links": {"self": links.institutions()},
    }


def institution(institution_id: str, links: Links) -> Json:
    shown = catalogue.institution(institution_id, links)
    if not shown:
        raise not_found("institution")
    return shown


def filtered(rows: list[Json], filter_text: str | None, fields: Fields) -> list[Json]:
    if not filter_text:
        return rows
    try:
        return filters.apply(rows, filters.parse(filter_text, fields), fields)
    except filters.FilterError as exc:
        raise not_valid(str(exc), "filter") from None


def _institution(institution_id: str) -> Json:
    institution = catalogue.find(institution_id)
    if not institution:
        raise not_valid("Requested institution does not exist.", "id", "connection/institution/id")
    return institution

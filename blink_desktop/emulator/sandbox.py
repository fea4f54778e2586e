"""The emulated Basiq platform: tokens, users, connections, jobs and their data.

Every method takes plain values and returns the JSON body Basiq would answer with, or raises
Problem; HTTP lives in api.py. `base` is the emulator's own URL, for links.
"""

from __future__ import annotations

import hmac
import re
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, ValidationError

from blink_desktop.emulator import bankdata, catalogue, filters, scenarios
from blink_desktop.emulator.jobs import Mfa, Plan, timeline
from blink_desktop.emulator.problems import (
    Problem,
    expired,
    forbidden,
    invalid_token,
    not_found,
    not_supplied,
    not_valid,
    unauthorized,
)
from blink_desktop.emulator.state import Row, State
from blink_desktop.emulator.tokens import MFA_VERSIONS, VERSIONS, Claims, TokenError, TokenIssuer

DEFAULT_API_KEY = (
    "ZW11bGF0b3ItYXBwOmVtdWxhdG9yLXNlY3JldA=="  # base64("emulator-app:emulator-secret")
)
PARTNER_ID = "e0f9b7b6-0c8f-4b6a-9f61-6b2f3c7d8e90"
APPLICATION_ID = "2f4d8a5c-7e31-4b9e-8d0a-1c6b5e3f9a27"
JOBS_KEPT_SECONDS = 7 * 86400  # GET /users/{id}/jobs shows the last 7 days, as Basiq's does

Need = Literal["server", "client", "any"]

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_MOBILE = re.compile(r"^\+?[0-9]{8,15}$")


class _Body(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True)


class UserBody(_Body):
    email: str | None = None
    mobile: str | None = None
    firstName: str | None = None
    middleName: str | None = None
    lastName: str | None = None


class InstitutionRef(_Body):
    id: str | None = None


class ConnectionBody(_Body):
    loginId: str | None = None
    password: str | None = None
    securityCode: str | None = None
    secondaryLoginId: str | None = None
    institution: InstitutionRef | None = None


class MfaBody(BaseModel):
    model_config = ConfigDict(strict=True, populate_by_name=True)
    mfa_response: list[str] | None = None

    @classmethod
    def parse(cls, body: Any) -> list[str]:
        if not isinstance(body, dict):
            raise not_valid("Posted MFA response is not in valid format.", pointer="mfa-response")
        try:
            answers = cls(mfa_response=body.get("mfa-response")).mfa_response
        except ValidationError:
            raise not_valid("mfa-response must be a list of strings.", "mfa-response") from None
        if not answers:
            raise not_supplied("mfa-response parameter is required.", "mfa-response")
        return answers


def _parse(model: type[_Body], body: Any, what: str) -> Any:
    try:
        return model.model_validate(body)
    except ValidationError:
        raise not_valid(f"Posted {what} is not in valid format.") from None


def _iso(moment: float | None) -> str | None:
    if moment is None:
        return None
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Sandbox:
    def __init__(
        self,
        state: State,
        *,
        api_key: str = DEFAULT_API_KEY,
        token_ttl: int = 3600,
        job_speed: float = 1.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.state = state
        self.api_key = api_key
        self.token_ttl = token_ttl
        self.job_speed = job_speed
        self.clock = clock
        secret = state.meta("secret") or ""
        self.issuer = TokenIssuer(
            bytes.fromhex(secret), partner_id=PARTNER_ID, application_id=APPLICATION_ID
        )

    # tokens
    def issue_token(
        self, authorization: str | None, version: str | None, fields: dict[str, Any]
    ) -> dict[str, Any]:
        if not authorization:
            raise not_supplied(
                "Authorization header parameter is required",
                "Authorization",
                "header/Authorization",
            )
        scheme, _, key = authorization.partition(" ")
        if scheme.lower() != "basic" or not key.strip():
            raise not_valid("Invalid authorization header", "Authorization", "header/Authorization")
        if not hmac.compare_digest(key.strip().encode(), self.api_key.encode()):
            raise Problem(
                404,
                "parameter-not-valid",
                "We have encountered an error",
                "Unable to authenticate. Please, check your API key",
            )
        if not version:
            raise Problem(
                400,
                "parameter-not-valid",
                "Required parameter not valid",
                "Basiq-version must be specified in HTTP request header",
                parameter="basiq-version",
                pointer="header/basiq-version",
            )
        if version not in VERSIONS:
            raise Problem(
                400,
                "parameter-not-valid",
                "Required parameter not valid",
                f"Basiq-version {version!r} is not supported; use one of {', '.join(VERSIONS)}",
                parameter="basiq-version",
                pointer="header/basiq-version",
            )
        scope = str(fields.get("scope") or "SERVER_ACCESS").upper()
        if scope not in ("SERVER_ACCESS", "CLIENT_ACCESS"):
            raise not_valid("Scope must be SERVER_ACCESS or CLIENT_ACCESS.", "scope", "body/scope")
        user_id = fields.get("userId") or None
        if user_id is not None and not isinstance(user_id, str):
            raise not_valid("userId must be a string.", "userId", "body/userId")
        if scope == "CLIENT_ACCESS" and version == "3.0" and not user_id:
            raise not_supplied(
                "CLIENT_ACCESS tokens must be bound to a userId", "userId", "body/userId"
            )
        if user_id and not self.state.user(user_id):
            raise not_found("user", "userId")
        token = self.issuer.issue(
            scope,  # type: ignore[arg-type]
            version,
            self.token_ttl,
            user_id if scope == "CLIENT_ACCESS" else None,
            self._generation(),
        )
        return {"access_token": token, "token_type": "Bearer", "expires_in": self.token_ttl}

    def authenticate(
        self, authorization: str | None, need: Need, user_id: str | None = None
    ) -> Claims:
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise invalid_token()
        try:
            claims = self.issuer.verify(token.strip())
        except TokenError:
            raise invalid_token() from None
        if claims.expires_at <= self.clock() or claims.generation < self._generation():
            raise expired()
        if need == "server" and not claims.is_server:
            raise forbidden()
        if need == "client" and claims.is_server:
            raise forbidden()
        if user_id is not None and claims.user_id and claims.user_id != user_id:
            raise unauthorized()
        return claims

    def expire_tokens(self) -> None:
        """Make every token issued so far expired, as if an hour had passed."""
        self.state.set_meta("generation", str(self._generation() + 1))

    def _generation(self) -> int:
        return int(self.state.meta("generation") or 0)

    # users
    def create_user(self, body: Any, base: str) -> dict[str, Any]:
        user = _parse(UserBody, body, "user")
        email, mobile = self._contact(user)
        if not email and not mobile:
            raise not_supplied("One of 'email' or 'mobile' is required.", "email")
        user_id = str(uuid.uuid4())
        self.state.add_user(user_id, email, mobile, self._names(user))
        return {
            "type": "user",
            "id": user_id,
            "email": email or "",
            "mobile": mobile or "",
            **self._names(user),
            "links": {"self": f"{base}/users/{user_id}"},
        }

    def update_user(self, user_id: str, body: Any, base: str) -> dict[str, Any]:
        current = self._user(user_id)
        user = _parse(UserBody, body, "user")
        email, mobile = self._contact(user)
        details = {**current["details"], **self._names(user)}
        self.state.update_user(
            user_id, email or current["email"], mobile or current["mobile"], details
        )
        return self.user_view(user_id, base)

    def delete_user(self, user_id: str) -> None:
        if not self.state.delete_user(user_id):
            raise not_found("user")

    def user_view(self, user_id: str, base: str) -> dict[str, Any]:
        user = self._user(user_id)
        connections = self.state.connections(user_id)
        accounts = [account for row in connections for account in self._data(row, base)[0]]
        prefix = f"{base}/users/{user_id}"
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
                        "links": {"self": f"{prefix}/connections/{row['id']}"},
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
                "self": prefix,
                "accounts": f"{prefix}/accounts",
                "connections": f"{prefix}/connections",
                "transactions": f"{prefix}/transactions",
                "auth_link": None,
            },
        }

    def _user(self, user_id: str) -> Row:
        user = self.state.user(user_id)
        if not user:
            raise not_found("user")
        return user

    @staticmethod
    def _contact(user: UserBody) -> tuple[str | None, str | None]:
        email = (user.email or "").strip() or None
        mobile = re.sub(r"[\s()-]", "", user.mobile or "") or None
        if email and not _EMAIL.match(email):
            raise not_valid("Provided email is in bad format.", "email", "user/email")
        if mobile and not _MOBILE.match(mobile):
            raise not_valid("Provided mobile is in bad format.", "mobile", "user/mobile")
        return email, mobile

    @staticmethod
    def _names(user: UserBody) -> dict[str, str]:
        names = {
            "firstName": user.firstName,
            "middleName": user.middleName,
            "lastName": user.lastName,
        }
        return {key: value for key, value in names.items() if value is not None}

    # connections
    def create_connection(
        self, claims: Claims, user_id: str, body: Any, base: str
    ) -> dict[str, Any]:
        self._user(user_id)
        request = _parse(ConnectionBody, body, "connection")
        institution_id = request.institution.id if request.institution else None
        if not institution_id:
            raise not_supplied(
                "Institution ID  parameter is required.", "id", "connection/institution/id"
            )
        institution = self._institution(institution_id, base)
        login_id, password = self._credentials(request, need_login=True)
        if self.state.duplicate(user_id, institution_id, login_id):
            raise Problem(
                409,
                "resource-already-exists",
                "Resource already exists",
                "A connection with these credentials already exists for this user and institution.",
                parameter="loginId",
                pointer="connection/loginId",
            )
        failure = scenarios.login(login_id, password)
        mfa = self._mfa(claims, institution, user_id, failure is None)
        connection_id = str(uuid.uuid4())
        self.state.add_connection(
            {
                "id": connection_id,
                "user_id": user_id,
                "institution_id": institution_id,
                "login_id": login_id,
                "status": "pending",
                "created": self.clock(),
            }
        )
        return self._start_job(
            user_id, connection_id, institution_id, login_id, "create", failure, mfa, base
        )

    def update_connection(
        self, claims: Claims, user_id: str, connection_id: str, body: Any, base: str
    ) -> dict[str, Any]:
        connection = self._connection(user_id, connection_id)
        request = _parse(ConnectionBody, body, "connection")
        if request.institution and request.institution.id not in (
            None,
            connection["institution_id"],
        ):
            raise not_valid(
                "Institution can't be changed on an existing connection.",
                "id",
                "connection/institution/id",
            )
        login_id, password = self._credentials(request, need_login=False)
        login_id = login_id or connection["login_id"]
        institution = self._institution(connection["institution_id"], base)
        failure = scenarios.login(login_id, password)
        mfa = self._mfa(claims, institution, user_id, failure is None)
        self.state.update_connection(connection_id, login_id=login_id)
        return self._start_job(
            user_id,
            connection_id,
            connection["institution_id"],
            login_id,
            "update",
            failure,
            mfa,
            base,
        )

    def refresh_connection(self, user_id: str, connection_id: str, base: str) -> dict[str, Any]:
        connection = self._connection(user_id, connection_id)
        failure = scenarios.INVALID_CREDENTIALS if connection["status"] == "invalid" else None
        return self._start_job(
            user_id,
            connection_id,
            connection["institution_id"],
            connection["login_id"],
            "refresh",
            failure,
            "none",
            base,
        )

    def refresh_all(self, user_id: str, base: str) -> dict[str, Any]:
        self._user(user_id)
        jobs = [
            self.refresh_connection(user_id, row["id"], base)
            for row in self.state.connections(user_id)
            if row["status"] != "pending"
        ]
        return {"type": "list", "data": jobs}

    def delete_connection(self, user_id: str, connection_id: str) -> None:
        self._connection(user_id, connection_id)
        self.state.delete_connection(connection_id)

    def connection_view(
        self, claims: Claims, user_id: str, connection_id: str, base: str
    ) -> dict[str, Any]:
        return self._connection_json(
            self._connection(user_id, connection_id), base, claims.is_server
        )

    def connections_view(self, user_id: str, filter_text: str | None, base: str) -> dict[str, Any]:
        self._user(user_id)
        rows = [self._connection_json(row, base, True) for row in self.state.connections(user_id)]
        fields = {
            "connection.id": lambda item: item["id"],
            "connection.status": lambda item: item["status"],
            "institution.id": lambda item: item["institution"]["id"],
        }
        rows = self._filter(rows, filter_text, fields)
        return {
            "type": "list",
            "count": len(rows),
            "data": rows,
            "links": {"self": f"{base}/users/{user_id}/connections"},
        }

    def _connection_json(self, row: Row, base: str, server: bool) -> dict[str, Any]:
        prefix = f"{base}/users/{row['user_id']}"
        institution = self._institution(row["institution_id"], base)
        accounts = self._data(row, base)[0]
        result: dict[str, Any] = {
            "type": "connection",
            "id": row["id"],
            "mfaEnabled": institution["authorization"] in catalogue.MFA_AUTHORIZATIONS,
            "institution": {
                "type": "institution",
                "id": institution["id"],
                "links": {"self": institution["links"]["self"]},
            },
            "accounts": {"type": "list", "data": accounts},
            "links": {
                "self": f"{prefix}/connections/{row['id']}",
                "accounts": f"{prefix}/accounts?filter=connection.id.eq('{row['id']}')",
                "transactions": f"{prefix}/transactions?filter=connection.id.eq('{row['id']}')",
                "user": prefix,
            },
        }
        if server:
            result["status"] = row["status"]
            result["createdDate"] = _iso(row["created"])
            result["lastUsed"] = _iso(row["last_used"])
        if row["last_used"] is not None:
            result["profile"] = self._profile(row["login_id"])
        return result

    @staticmethod
    def _profile(login_id: str) -> dict[str, Any]:
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

    def _connection(self, user_id: str, connection_id: str) -> Row:
        self._user(user_id)
        row = self.state.connection(connection_id)
        if not row or row["user_id"] != user_id:
            raise not_found("connection")
        return row

    def _institution(self, institution_id: str, base: str) -> dict[str, Any]:
        institution = catalogue.institution(institution_id, base)
        if not institution:
            raise not_valid(
                "Requested institution does not exist.", "id", "connection/institution/id"
            )
        return institution

    @staticmethod
    def _credentials(request: ConnectionBody, need_login: bool) -> tuple[str, str]:
        if need_login and not request.loginId:
            raise not_supplied("Login ID parameter is required.", "loginId", "connection/loginId")
        if not request.password:
            raise not_supplied("Password parameter is required.", "password", "connection/password")
        return request.loginId or "", request.password

    def _mfa(
        self, claims: Claims, institution: dict[str, Any], user_id: str, login_ok: bool
    ) -> Mfa:
        authorization = institution["authorization"]
        if authorization not in catalogue.MFA_AUTHORIZATIONS:
            return "none"
        if claims.version not in MFA_VERSIONS:
            raise not_valid(
                f"{institution['name']} asks for multi-factor authentication, which needs a "
                "token created with basiq-version 2.1 or later.",
                "id",
                "connection/institution/id",
            )
        if authorization == "user-mfa-intermittent" and login_ok:
            # Deterministic "sometimes": the bank asks on every other attempt of this user.
            asks = self.state.count_jobs(user_id, institution["id"]) % 2 == 0
            return "required" if asks else "skipped"
        return "required"

    def _start_job(
        self,
        user_id: str,
        connection_id: str,
        institution_id: str,
        login_id: str,
        kind: str,
        failure: scenarios.Failure | None,
        mfa: Mfa,
        base: str,
    ) -> dict[str, Any]:
        job_id = str(uuid.uuid4())
        challenge = scenarios.mfa_challenge(login_id) if mfa == "required" else None
        plan = Plan.make(job_id, self.job_speed, failure, mfa, challenge)
        self.state.add_job(
            {
                "id": job_id,
                "user_id": user_id,
                "connection_id": connection_id,
                "institution_id": institution_id,
                "login_id": login_id,
                "kind": kind,
                "created": self.clock(),
                "plan": plan.to_dict(),
            }
        )
        return {"type": "job", "id": job_id, "links": {"self": f"{base}/jobs/{job_id}"}}

    # jobs
    def job_view(self, claims: Claims, job_id: str, base: str) -> dict[str, Any]:
        job = self._job(claims, job_id)
        return self._job_json(job, base)

    def jobs_view(self, user_id: str, base: str) -> dict[str, Any]:
        self._user(user_id)
        since = self.clock() - JOBS_KEPT_SECONDS
        jobs = [self._job_json(job, base) for job in self.state.jobs(user_id, since)]
        return {"type": "list", "data": jobs, "links": {"self": f"{base}/users/{user_id}/jobs"}}

    def answer_mfa(self, claims: Claims, job_id: str, body: Any, base: str) -> dict[str, Any]:
        job = self._job(claims, job_id)
        answers = MfaBody.parse(body)
        now = self.clock()
        current = self._timeline(job, now, base)
        if current.mfa_status != "in-progress" or job["mfa_answered_at"] is not None:
            raise not_valid(
                "This job is not waiting for a multi-factor authentication response.",
                "mfa-response",
            )
        accepted = scenarios.mfa_accepts(job["login_id"], answers)
        self.state.update_job(job_id, mfa_answered_at=now, mfa_ok=int(accepted))
        return {"type": "job", "id": job_id, "links": {"self": f"{base}/jobs/{job_id}"}}

    def _job(self, claims: Claims, job_id: str) -> Row:
        job = self.state.job(job_id)
        if not job:
            raise not_found("job")
        if claims.user_id and claims.user_id != job["user_id"]:
            raise unauthorized()
        return job

    def _timeline(self, job: Row, now: float, base: str) -> Any:
        user_id, connection_id = job["user_id"], job["connection_id"]
        data_filter = f"?filter=institution.id.eq('{job['institution_id']}')"
        return timeline(
            Plan(**job["plan"]),
            job["created"],
            now,
            answered_at=job["mfa_answered_at"],
            answer_ok=None if job["mfa_ok"] is None else bool(job["mfa_ok"]),
            links={
                "connection": f"/users/{user_id}/connections/{connection_id}",
                "accounts": f"/users/{user_id}/accounts{data_filter}",
                "transactions": f"/users/{user_id}/transactions{data_filter}",
                "mfa": f"{base}/jobs/{job['id']}/mfa",
            },
        )

    def _job_json(self, job: Row, base: str) -> dict[str, Any]:
        current = self._timeline(job, self.clock(), base)
        return {
            "type": "job",
            "id": job["id"],
            "created": _iso(job["created"]),
            "updated": _iso(current.updated),
            "steps": current.steps,
            "links": {
                "self": f"{base}/jobs/{job['id']}",
                "source": f"{base}/users/{job['user_id']}/connections/{job['connection_id']}",
            },
        }

    def settle(self) -> None:
        """Apply what finished jobs did to their connections, once each."""
        now = self.clock()
        for job in self.state.unfinished_jobs():
            current = self._timeline(job, now, "")
            connection_id, applied = job["connection_id"], job["applied"]
            if applied < 1 and current.verified is not None:
                self.state.update_connection(
                    connection_id, status="active", last_used=current.verified
                )
                applied = 1
            elif applied < 1 and current.failed is not None:
                if job["kind"] == "create":
                    self.state.delete_connection(connection_id)
                else:
                    self.state.update_connection(connection_id, status="invalid")
                applied = 3
            if applied < 2 and current.accounts is not None:
                self.state.update_connection(connection_id, accounts_at=current.accounts)
                applied = 2
            if applied < 3 and current.transactions is not None:
                self.state.update_connection(connection_id, transactions_at=current.transactions)
                applied = 3
            if applied != job["applied"] or current.finished:
                self.state.update_job(job["id"], applied=applied, finished=int(current.finished))

    # accounts and transactions
    _ACCOUNT_FIELDS: dict[str, Callable[[Any], Any]] = {
        "account.id": lambda item: item["id"],
        "account.type": lambda item: item["class"]["type"],
        "connection.id": lambda item: item["connection"],
        "institution.id": lambda item: item["institution"],
    }
    _TRANSACTION_FIELDS: dict[str, Callable[[Any], Any]] = {
        "account.id": lambda item: item["account"],
        "connection.id": lambda item: item["connection"],
        "institution.id": lambda item: item["institution"],
        "transaction.postDate": lambda item: item["postDate"][:10] or None,
        "transaction.status": lambda item: item["status"],
        "transaction.direction": lambda item: item["direction"],
        "transaction.class": lambda item: item["class"],
    }

    def _data(self, row: Row, base: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        if row["accounts_at"] is None:
            return [], []
        institution = self._institution(row["institution_id"], base)
        accounts, transactions = bankdata.build(
            row, institution, scenarios.full_name(row["login_id"]), base
        )
        return accounts, transactions if row["transactions_at"] is not None else []

    def accounts(self, user_id: str, filter_text: str | None, base: str) -> dict[str, Any]:
        self._user(user_id)
        rows = [
            item for row in self.state.connections(user_id) for item in self._data(row, base)[0]
        ]
        rows = self._filter(rows, filter_text, self._ACCOUNT_FIELDS)
        return {
            "type": "list",
            "count": len(rows),
            "data": rows,
            "links": {"self": f"{base}/users/{user_id}/accounts"},
        }

    def account(self, user_id: str, account_id: str, base: str) -> dict[str, Any]:
        for item in self.accounts(user_id, None, base)["data"]:
            if item["id"] == account_id:
                return dict(item)
        raise not_found("account")

    def transactions(
        self,
        user_id: str,
        filter_text: str | None,
        limit_text: str | None,
        cursor: str | None,
        base: str,
    ) -> dict[str, Any]:
        self._user(user_id)
        try:
            limit = int(limit_text) if limit_text else 500
            offset = int(cursor) if cursor else 0
        except ValueError:
            raise not_valid("limit and next must be whole numbers.", "limit") from None
        if not 1 <= limit <= 500 or offset < 0:
            raise not_valid("limit must be between 1 and 500.", "limit")
        rows = [
            item for row in self.state.connections(user_id) for item in self._data(row, base)[1]
        ]
        rows = self._filter(rows, filter_text, self._TRANSACTION_FIELDS)
        # By account, then pending first, then newest first, as Basiq sorts them.
        rows.sort(key=lambda item: item["transactionDate"] or item["postDate"], reverse=True)
        rows.sort(key=lambda item: (item["account"], item["status"] != "pending"))
        page = rows[offset : offset + limit]
        links = {"self": f"{base}/users/{user_id}/transactions"}
        if offset + limit < len(rows):
            query = f"limit={limit}&next={offset + limit}"
            if filter_text:
                query += "&filter=" + quote(filter_text, safe="")
            links["next"] = f"{base}/users/{user_id}/transactions?{query}"
        return {"type": "list", "count": len(rows), "size": len(page), "data": page, "links": links}

    def transaction(self, user_id: str, transaction_id: str, base: str) -> dict[str, Any]:
        self._user(user_id)
        for row in self.state.connections(user_id):
            for item in self._data(row, base)[1]:
                if item["id"] == transaction_id:
                    return item
        raise not_found("transaction")

    # institutions
    def institutions(self, filter_text: str | None, base: str) -> dict[str, Any]:
        rows = self._filter(catalogue.institutions(base), filter_text, catalogue.FIELDS)
        return {
            "type": "list",
            "totalCount": len(rows),
            "data": rows,
            "links": {"self": f"{base}/institutions"},
        }

    def institution(self, institution_id: str, base: str) -> dict[str, Any]:
        institution = catalogue.institution(institution_id, base)
        if not institution:
            raise not_found("institution")
        return institution

    @staticmethod
    def _filter(
        rows: list[dict[str, Any]],
        filter_text: str | None,
        fields: dict[str, Callable[[Any], Any]],
    ) -> list[dict[str, Any]]:
        if not filter_text:
            return rows
        try:
            return filters.apply(rows, filters.parse(filter_text, fields), fields)
        except filters.FilterError as exc:
            raise not_valid(str(exc), "filter") from None

"""What the emulated Basiq does to its state: users, connections, jobs, MFA and settling.

`Rules` takes plain values (claims, ids, the decoded JSON body), changes the state, and answers
rows of the state or ids; it raises `Problem` for what Basiq refuses. It renders nothing: that
is views.py. Time is the emulator's clock; a job's steps are a function of it (jobs.py), and
`settle()` writes what finished steps did into the connections. What happens to users and
connections is told to `Events` (events.py), which the webhooks deliver.

A connection is made by a web login (`login`: Blink's and the API's way, and the Consent UI's)
or by an open-banking authorisation at the bank (`authorise`: the Consent UI's only).
"""

from __future__ import annotations

import threading
import uuid
from typing import Any

from blink_desktop.emulator import catalogue, scenarios
from blink_desktop.emulator.bodies import ConnectionBody, MfaBody, UserBody, parse
from blink_desktop.emulator.clock import Clock
from blink_desktop.emulator.events import Events
from blink_desktop.emulator.jobs import Mfa, Plan, Timeline, progress
from blink_desktop.emulator.links import Links
from blink_desktop.emulator.problems import (
    Problem,
    not_found,
    not_supplied,
    not_valid,
    unauthorized,
)
from blink_desktop.emulator.state import Row, State
from blink_desktop.emulator.tokens import MFA_VERSIONS, Claims

JOBS_KEPT_SECONDS = 7 * 86400  # GET /users/{id}/jobs shows the last 7 days, as Basiq's does
OPEN_BANKING_SECONDS = 365 * 86400  # an open-banking connection lasts a year from authorisation
_NO_LINKS = Links("")  # the rules read a job's steps, never its links


class Rules:
    def __init__(
        self, state: State, *, clock: Clock, events: Events, job_speed: float = 1.0
    ) -> None:
        self.state = state
        self.clock = clock
        self.events = events
        self.job_speed = job_speed
        # Requests and the webhook thread both settle: each finished step is applied once.
        self._settling = threading.Lock()

    # users
    def create_user(self, body: Any) -> Row:
        user = parse(UserBody, body, "user")
        email, mobile = user.contact()
        if not email and not mobile:
            raise not_supplied("One of 'email' or 'mobile' is required.", "email")
        user_id = str(uuid.uuid4())
        self.state.add_user(user_id, email, mobile, user.names())
        created = self.user(user_id)
        self.events.user("user.created", created)
        return created

    def update_user(self, user_id: str, body: Any) -> None:
        current = self.user(user_id)
        user = parse(UserBody, body, "user")
        email, mobile = user.contact()
        details = {**current["details"], **user.names()}
        self.state.update_user(
            user_id, email or current["email"], mobile or current["mobile"], details
        )
        self.events.user("user.updated", self.user(user_id))

    def delete_user(self, user_id: str) -> None:
        """Delete a user with their connections, consents and data."""
        if not self.state.delete_user(user_id):
            raise not_found("user")
        link = self.events.links.user(user_id)
        self.events.emit("user.deleted", user_id, link, {"type": "user", "id": user_id})

    def user(self, user_id: str) -> Row:
        user = self.state.user(user_id)
        if not user:
            raise not_found("user")
        return user

    # connections
    def connections(self, user_id: str) -> list[Row]:
        self.user(user_id)
        return self.state.connections(user_id)

    def connection(self, user_id: str, connection_id: str) -> Row:
        self.user(user_id)
        row = self.state.connection(connection_id)
        if not row or row["user_id"] != user_id:
            raise not_found("connection")
        return row

    def create_connection(self, claims: Claims, user_id: str, body: Any) -> str:
        """Start a first login at a bank, for the API; answer the job's id."""
        return self.login(user_id, body, mfa=claims.version in MFA_VERSIONS)

    def login(self, user_id: str, body: Any, *, mfa: bool) -> str:
        """Start a first login at a web bank; `mfa` says whether the caller can answer MFA."""
        self.user(user_id)
        request = parse(ConnectionBody, body, "connection")
        institution_id = request.institution_id
        if not institution_id:
            raise not_supplied(
                "Institution ID  parameter is required.", "id", "connection/institution/id"
            )
        institution = _institution(institution_id)
        if catalogue.method(institution) != "web":
            raise not_valid(
                f"{institution['name']} connects by open banking, through the Consent UI only.",
                "id",
                "connection/institution/id",
            )
        login_id, password = request.credentials(need_login=True)
        failure = scenarios.login(login_id, password)
        # A bank checks the password first: only credentials it accepts can be "already
        # connected". A wrong one fails at verify-credentials, as any wrong password does.
        if failure is None and self.state.duplicate(user_id, institution_id, login_id):
            raise Problem(
                409,
                "resource-already-exists",
                "Resource already exists",
                "A connection with these credentials already exists for this user and institution.",
                parameter="loginId",
                pointer="connection/loginId",
            )
        asks = self._mfa(mfa, institution, user_id, failure is None)
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
            user_id, connection_id, institution_id, login_id, "create", failure, asks
        )

    def update_connection(self, claims: Claims, user_id: str, connection_id: str, body: Any) -> str:
        """Log in again with new credentials, for the API; answer the job's id."""
        return self.relogin(user_id, connection_id, body, mfa=claims.version in MFA_VERSIONS)

    def relogin(self, user_id: str, connection_id: str, body: Any, *, mfa: bool) -> str:
        """Log in again at a web bank with new credentials; answer the job's id."""
        connection = self.connection(user_id, connection_id)
        request = parse(ConnectionBody, body, "connection")
        if request.institution_id not in (None, connection["institution_id"]):
            raise not_valid(
                "Institution can't be changed on an existing connection.",
                "id",
                "connection/institution/id",
            )
        login_id, password = request.credentials(need_login=False)
        login_id = login_id or connection["login_id"]
        institution = _institution(connection["institution_id"])
        if connection["method"] != "web":
            raise not_valid(
                "An open-banking connection is renewed at its bank, not with credentials.",
                "id",
                "connection/id",
            )
        failure = scenarios.login(login_id, password)
        asks = self._mfa(mfa, institution, user_id, failure is None)
        self.state.update_connection(connection_id, login_id=login_id)
        return self._start_job(
            user_id, connection_id, institution["id"], login_id, "update", failure, asks
        )

    def authorise(
        self, user_id: str, institution_id: str, approved: bool, connection_id: str | None = None
    ) -> str:
        """The person approved, or denied, sharing at an open-banking bank; answer the job's id.

        With `connection_id`, or when this user already has a connection at that bank, this
        reauthorises that connection; otherwise it makes a new one.
        """
        self.user(user_id)
        institution = _institution(institution_id)
        if catalogue.method(institution) != "openbanking":
            raise not_valid(
                f"{institution['name']} does not connect by open banking.", "institutionId"
            )
        login_id = scenarios.OPEN_BANKING_CUSTOMER
        existing = (
            self.connection(user_id, connection_id)
            if connection_id
            else self.state.duplicate(user_id, institution_id, login_id)
        )
        failure = None if approved else scenarios.ACCESS_DENIED
        if existing is not None:
            if existing["institution_id"] != institution_id:
                raise not_valid("This connection is at another institution.", "connectionId")
            return self._start_job(
                user_id, existing["id"], institution_id, login_id, "update", failure, "none"
            )
        new_id = str(uuid.uuid4())
        self.state.add_connection(
            {
                "id": new_id,
                "user_id": user_id,
                "institution_id": institution_id,
                "login_id": login_id,
                "status": "pending",
                "created": self.clock(),
                "method": "openbanking",
            }
        )
        return self._start_job(user_id, new_id, institution_id, login_id, "create", failure, "none")

    def refresh_connection(self, user_id: str, connection_id: str) -> str:
        """Fetch the data again with the stored login; an invalid connection fails again, and so
        does one broken on purpose (its password changed at the bank) until it is updated."""
        connection = self.connection(user_id, connection_id)
        stale = connection["status"] == "invalid" or connection["broken"]
        failure = scenarios.INVALID_CREDENTIALS if stale else None
        return self._start_job(
            user_id,
            connection_id,
            connection["institution_id"],
            connection["login_id"],
            "refresh",
            failure,
            "none",
        )

    def refresh_all(self, user_id: str) -> list[str]:
        return [
            self.refresh_connection(user_id, row["id"])
            for row in self.connections(user_id)
            if row["status"] != "pending"
        ]

    def delete_connection(self, user_id: str, connection_id: str) -> None:
        """Delete a connection and its data (told as `connection.deleted` once it was made)."""
        row = self.connection(user_id, connection_id)
        self.state.delete_connection(connection_id)
        if row["last_used"] is not None:
            self.events.connection("connection.deleted", row)

    def _mfa(self, mfa: bool, institution: dict[str, Any], user_id: str, login_ok: bool) -> Mfa:
        authorization = institution["authorization"]
        if authorization not in catalogue.MFA_AUTHORIZATIONS:
            return "none"
        if not mfa:
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
    ) -> str:
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
        return job_id

    # jobs
    def job(self, claims: Claims, job_id: str) -> Row:
        job = self.state.job(job_id)
        if not job:
            raise not_found("job")
        if claims.user_id and claims.user_id != job["user_id"]:
            raise unauthorized()
        return job

    def jobs(self, user_id: str) -> list[Row]:
        """The user's jobs of the last 7 days, newest first."""
        self.user(user_id)
        return self.state.jobs(user_id, self.clock() - JOBS_KEPT_SECONDS)

    def answer_mfa(self, claims: Claims, job_id: str, body: Any) -> None:
        job = self.job(claims, job_id)
        answers = MfaBody.parse(body)
        now = self.clock()
        current = self._progress(job, now)
        if current.mfa_status != "in-progress" or job["mfa_answered_at"] is not None:
            raise not_valid(
                "This job is not waiting for a multi-factor authentication response.",
                "mfa-response",
            )
        accepted = scenarios.mfa_accepts(job["login_id"], answers)
        self.state.update_job(job_id, mfa_answered_at=now, mfa_ok=int(accepted))

    def settle(self) -> None:
        """Apply what finished job steps did to their connections, once each."""
        with self._settling:
            now = self.clock()
            for job in self.state.unfinished_jobs():
                self._settle(job, self._progress(job, now))

    def _settle(self, job: Row, current: Timeline) -> None:
        connection_id, applied = job["connection_id"], job["applied"]
        before = self.state.connection(connection_id)
        if applied < 1 and current.verified is not None:
            changes: dict[str, Any] = {"status": "active", "last_used": current.verified}
            if before is not None and before["method"] == "openbanking":
                changes["expires"] = current.verified + OPEN_BANKING_SECONDS
            if job["kind"] == "update":
                changes["broken"] = 0  # the bank took the new credentials
            self.state.update_connection(connection_id, **changes)
            if job["kind"] == "create":
                self._tell(connection_id, "connection.created")
            if before is not None and before["status"] != "active":
                self._tell(connection_id, "connection.activated")
            applied = 1
        elif applied < 1 and current.failed is not None:
            if job["kind"] == "create":
                self.state.delete_connection(connection_id)
            else:
                self.state.update_connection(connection_id, status="invalid")
                if before is not None and before["status"] != "invalid":
                    self._tell(connection_id, "connection.invalidated")
            applied = 3
        if applied < 2 and current.accounts is not None:
            self.state.update_connection(connection_id, accounts_at=current.accounts)
            applied = 2
        if applied < 3 and current.transactions is not None:
            self.state.update_connection(connection_id, transactions_at=current.transactions)
            self._tell(connection_id, "transactions.updated")
            applied = 3
        if applied != job["applied"] or current.finished:
            self.state.update_job(job["id"], applied=applied, finished=int(current.finished))

    def _tell(self, connection_id: str, event_type: str) -> None:
        row = self.state.connection(connection_id)
        if row is None:  # deleted while its job ran
            return
        if event_type == "transactions.updated":
            self.events.transactions(row)
        else:
            self.events.connection(event_type, row)

    def _progress(self, job: Row, now: float) -> Timeline:
        return progress(job, now, _NO_LINKS)


def _institution(institution_id: str) -> dict[str, Any]:
    institution = catalogue.find(institution_id)
    if not institution:
        raise not_valid("Requested institution does not exist.", "id", "connection/institution/id")
    return institution

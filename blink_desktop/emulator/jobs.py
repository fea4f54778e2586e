"""A job's steps as a pure function of its plan and the clock.

Nothing runs in the background: each request reads the steps as they stand at that moment,
so progress is deterministic, survives a restart, and scales with the emulator's job speed.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from blink_desktop.emulator.links import Links
from blink_desktop.emulator.scenarios import MFA_EXPIRED, MFA_WRONG, Failure

Mfa = Literal["none", "required", "skipped"]
Status = Literal["pending", "in-progress", "success", "failed", "skipped"]

# Seconds at job speed 1, close to Basiq's: credentials verified after 1 to 2 s, whole job 3 to 6 s.
VERIFY = (1.0, 2.0)
ACCOUNTS = (1.0, 1.5)
TRANSACTIONS = (1.0, 2.5)
MFA_PROMPT = 0.6  # share of the verify time before the bank asks its question
MFA_ANSWER = 0.5
MFA_EXPIRY = 120.0


@dataclass(frozen=True)
class Plan:
    """Everything decided when the job is created; the clock does the rest."""

    verify: float
    accounts: float
    transactions: float
    failure: dict[str, str] | None = None
    mfa: Mfa = "none"
    challenge: dict[str, Any] | None = None
    mfa_expiry: float = MFA_EXPIRY
    mfa_answer: float = MFA_ANSWER

    @classmethod
    def make(
        cls,
        job_id: str,
        speed: float,
        failure: Failure | None,
        mfa: Mfa = "none",
        challenge: dict[str, Any] | None = None,
    ) -> Plan:
        digest = hashlib.sha256(job_id.encode()).digest()

        def pick(bounds: tuple[float, float], byte: int) -> float:
            low, high = bounds
            return round((low + (high - low) * digest[byte] / 255) / speed, 4)

        return cls(
            verify=pick(VERIFY, 0),
            accounts=pick(ACCOUNTS, 1),
            transactions=pick(TRANSACTIONS, 2),
            failure=failure.as_result() if failure else None,
            mfa=mfa,
            challenge=challenge,
            mfa_expiry=round(MFA_EXPIRY / speed, 4),
            mfa_answer=round(MFA_ANSWER / speed, 4),
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Timeline:
    """When each step settles (absolute epoch seconds), and how."""

    verified: float | None = None
    failed: float | None = None
    failure: dict[str, str] | None = None
    mfa_asked: float | None = None
    mfa_status: Status = "pending"
    accounts: float | None = None
    transactions: float | None = None
    steps: list[dict[str, Any]] = field(default_factory=list)
    updated: float = 0.0

    @property
    def finished(self) -> bool:
        return self.failed is not None or self.transactions is not None


def timeline(
    plan: Plan,
    created: float,
    now: float,
    *,
    answered_at: float | None,
    answer_ok: bool | None,
    links: dict[str, str],
) -> Timeline:
    """The job as it stands at `now`; `links` holds the result URLs of the three data steps."""
    t = Timeline(updated=created)
    verify_end: float | None = None
    verify_failure: dict[str, str] | None = None
    mfa_end: float | None = None
    if plan.failure is not None:
        verify_end, verify_failure = created + plan.verify, plan.failure
    elif plan.mfa == "required":
        t.mfa_asked = created + plan.verify * MFA_PROMPT
        expires = t.mfa_asked + plan.mfa_expiry
        if answered_at is not None and answered_at < expires:
            mfa_end = verify_end = answered_at + plan.mfa_answer
            verify_failure = None if answer_ok else MFA_WRONG.as_result()
        else:
            mfa_end = verify_end = expires
            verify_failure = MFA_EXPIRED.as_result()
    else:
        verify_end = created + plan.verify

    def settled(at: float | None) -> bool:
        return at is not None and at <= now

    # verify-credentials
    if settled(verify_end):
        assert verify_end is not None
        if verify_failure is None:
            t.verified = verify_end
            status: Status = "success"
            result: dict[str, Any] | None = {"type": "link", "url": links["connection"]}
        else:
            t.failed, t.failure = verify_end, verify_failure
            status, result = "failed", verify_failure
        t.updated = verify_end
    else:
        status = "in-progress" if now >= created + plan.verify * 0.1 else "pending"
        result = None
    steps = [{"title": "verify-credentials", "status": status, "result": result}]

    # mfa-challenge, only where the institution can ask one
    if plan.mfa != "none":
        mfa_result: dict[str, Any] | None = None
        if plan.mfa == "skipped":
            mfa: Status = "skipped" if t.verified else "pending"
        elif t.mfa_asked is not None and settled(mfa_end):
            mfa = "success" if t.verified else "failed"
            mfa_result = None if t.verified else t.failure
        elif t.mfa_asked is not None and now >= t.mfa_asked:
            mfa = "in-progress"
            remaining = max(0, int((t.mfa_asked + plan.mfa_expiry - now) * 1000))
            mfa_result = {
                "type": "mfa",
                **(plan.challenge or {}),
                "expiryMs": remaining,
                "links": {"response": links["mfa"]},
            }
            t.updated = max(t.updated, t.mfa_asked)
        else:
            mfa = "pending"
        t.mfa_status = mfa
        steps.append({"title": "mfa-challenge", "status": mfa, "result": mfa_result})

    # retrieve-accounts and retrieve-transactions follow a successful login
    previous = t.verified
    for title, duration, key in (
        ("retrieve-accounts", plan.accounts, "accounts"),
        ("retrieve-transactions", plan.transactions, "transactions"),
    ):
        end = previous + duration if previous is not None else None
        if end is not None and settled(end):
            steps.append(
                {"title": title, "status": "success", "result": {"type": "link", "url": links[key]}}
            )
            setattr(t, key, end)
            t.updated = end
            previous = end
        else:
            running = previous is not None and now >= previous
            steps.append(
                {"title": title, "status": "in-progress" if running else "pending", "result": None}
            )
            previous = None
    t.steps = steps
    return t


def progress(job: dict[str, Any], now: float, links: Links) -> Timeline:
    """A stored job (a row of the state) as it stands at `now`."""
    return timeline(
        Plan(**job["plan"]),
        job["created"],
        now,
        answered_at=job["mfa_answered_at"],
        answer_ok=None if job["mfa_ok"] is None else bool(job["mfa_ok"]),
        links=links.job_results(job),
    )

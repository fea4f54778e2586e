"""Every URL the emulator puts in an answer, built from one base URL.

The routes hold one `Links` for the emulator's own address (`Emulator.url`), never the Host or
X-Forwarded-Host a request names; views, the catalogue and the bank data take it from there.
`Links("")` gives the relative paths Basiq uses in job steps.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Links:
    base: str

    @property
    def relative(self) -> Links:
        return Links("")

    # users and their resources
    def user(self, user_id: str) -> str:
        return f"{self.base}/users/{user_id}"

    def connections(self, user_id: str) -> str:
        return f"{self.user(user_id)}/connections"

    def connection(self, user_id: str, connection_id: str) -> str:
        return f"{self.connections(user_id)}/{connection_id}"

    def accounts(self, user_id: str, filter_text: str | None = None) -> str:
        return _filtered(f"{self.user(user_id)}/accounts", filter_text)

    def account(self, user_id: str, account_id: str) -> str:
        return f"{self.user(user_id)}/accounts/{account_id}"

    def transactions(self, user_id: str, filter_text: str | None = None) -> str:
        return _filtered(f"{self.user(user_id)}/transactions", filter_text)

    def transaction(self, user_id: str, transaction_id: str) -> str:
        return f"{self.user(user_id)}/transactions/{transaction_id}"

    def jobs(self, user_id: str) -> str:
        return f"{self.user(user_id)}/jobs"

    # jobs
    def job(self, job_id: str) -> str:
        return f"{self.base}/jobs/{job_id}"

    def mfa(self, job_id: str) -> str:
        return f"{self.job(job_id)}/mfa"

    def job_results(self, job: dict[str, Any]) -> dict[str, str]:
        """Where a job's steps point: relative paths, as Basiq's are, and the absolute MFA link."""
        relative = self.relative
        user_id, institution = job["user_id"], f"institution.id.eq('{job['institution_id']}')"
        return {
            "connection": relative.connection(user_id, job["connection_id"]),
            "accounts": relative.accounts(user_id, institution),
            "transactions": relative.transactions(user_id, institution),
            "mfa": self.mfa(job["id"]),
        }

    # consents, webhooks and events
    def consents(self, user_id: str) -> str:
        return f"{self.user(user_id)}/consents"

    def consent(self, user_id: str, consent_id: str) -> str:
        return f"{self.consents(user_id)}/{consent_id}"

    def consent_policy(self) -> str:
        return f"{self.base}/consent/policy"

    def consent_ui(self) -> str:
        return f"{self.base}/home"

    def webhooks(self) -> str:
        return f"{self.base}/notifications/webhooks"

    def webhook(self, webhook_id: str) -> str:
        return f"{self.webhooks()}/{webhook_id}"

    def event(self, event_id: str) -> str:
        return f"{self.base}/events/{event_id}"

    # institutions
    def institutions(self) -> str:
        return f"{self.base}/institutions"

    def institution(self, institution_id: str) -> str:
        return f"{self.institutions()}/{institution_id}"

    def logo(self, institution_id: str, *, full: bool = False) -> str:
        return f"{self.base}/logos/{institution_id}{'-full' if full else ''}.svg"


def _filtered(url: str, filter_text: str | None) -> str:
    # Basiq's own links carry the filter unencoded, quotes and all; clients follow them as given.
    return f"{url}?filter={filter_text}" if filter_text else url

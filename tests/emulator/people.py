"""A person in Basiq 3.0's flow, for tests: their user, their bound client token, and what the
Consent UI page does for them (its private calls), without a window.
"""

from __future__ import annotations

from typing import Any

import requests

from tests.conftest import Api, step_status, wait_for

HOOLI = "AU00000"
PIED_PIPER = "AU00002"  # a web bank that always asks an MFA question
HOOLI_OPEN_BANKING = "AU00005"


class Person:
    def __init__(self, api: Api, email: str = "gavin@hooli.com") -> None:
        self.api = api
        self.user_id = api.user(email)
        self.token = api.token("CLIENT_ACCESS", "3.0", user_id=self.user_id)

    def renew(self) -> None:
        """A fresh client token, as the application gets for each visit (tokens last an hour)."""
        self.token = self.api.token("CLIENT_ACCESS", "3.0", user_id=self.user_id)

    def call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        return self.api.call(method, path, self.token, **kwargs)

    def accept(self) -> dict[str, Any]:
        """Accept the consent, as the Consent UI's Accept button does."""
        response = self.call("POST", "/consent/api/consents", json={})
        assert response.status_code == 201, response.text
        return dict(response.json())

    def start(self, institution: str = HOOLI, **fields: Any) -> requests.Response:
        body = {"institution": {"id": institution}, **fields}
        return self.call("POST", "/consent/api/connections", json=body)

    def log_in(
        self, login: str = "gavinBelson", password: str = "hooli2016", institution: str = HOOLI
    ) -> str:
        """Log in at a web bank through the Consent UI; answer the job's id."""
        response = self.start(institution, loginId=login, password=password)
        assert response.status_code == 202, response.text
        return str(response.json()["id"])

    def authorise(self, approved: bool = True, institution: str = HOOLI_OPEN_BANKING) -> str:
        """Approve or deny at an open-banking bank; answer the job's id."""
        decision = "approved" if approved else "denied"
        response = self.start(institution, authorisation=decision)
        assert response.status_code == 202, response.text
        return str(response.json()["id"])

    def job(self, job_id: str) -> dict[str, Any]:
        response = self.call("GET", f"/jobs/{job_id}")
        assert response.status_code == 200, response.text
        return dict(response.json())

    def finished(self, job_id: str, timeout: float = 10.0) -> dict[str, Any]:
        """The job once every step is settled (its last step done, or its login failed)."""

        def settled() -> dict[str, Any] | None:
            job = self.job(job_id)
            done = step_status(job, "retrieve-transactions") == "success"
            failed = step_status(job, "verify-credentials") == "failed"
            return job if done or failed else None

        return wait_for(settled, timeout)

    def connected(self, job_id: str) -> str:
        """Wait for the job; answer the id of the connection it made."""
        job = self.finished(job_id)
        assert step_status(job, "verify-credentials") == "success", job
        return str(job["links"]["source"].rsplit("/", 1)[1])

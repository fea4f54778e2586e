"""The connection manager: a person's accounts and transactions, fetched, refreshed, deleted.

What it shows comes from the ledger (ledger.py), at once and offline too; `fetch` brings it up
to date from Basiq, incrementally by date where it can; `refresh` asks Basiq to ask the bank
again, follows the job step by step, then fetches; `delete` removes a connection at Basiq, then
here with its data (the event log keeps a line). Where the data comes from depends on the mode,
behind `DataSource`: the KeyHolder with the API key (emulator and direct modes), or your server
(backend mode, app/backend.py). The window (bridge.py) and the command line (commands.py) both
call this.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import date, timedelta
from typing import Any, Protocol

from blink_desktop.app.ledger import Ledger, StoredAccount, StoredTransaction
from blink_desktop.app.store import Store, StoredConnection
from blink_desktop.basiq.models import Account, Job, StepResult, Transaction
from blink_desktop.errors import ApiError, ApiUnavailable, BlinkError

log = logging.getLogger(__name__)

ORIGIN = "blink-desktop"  # the origin of the event rows the app writes itself
OVERLAP = timedelta(days=7)  # a bank may post late: fetch again this far before the newest
POLL = 0.5  # seconds between looks at a refresh job
PATIENCE = 300.0  # seconds a refresh may take before the app stops waiting

StepCallback = Callable[[str, str], None]  # (step title, status)


class BadRequest(BlinkError):
    """What was asked for cannot be answered as asked (an unknown id, dates the wrong way)."""


class UnknownId(BadRequest):
    """No stored connection or account has the id asked for."""


class DataSource(Protocol):
    """Basiq's data for a user, with a server token the app never sees in backend mode."""

    def accounts(self, basiq_user_id: str, connection_id: str | None = None) -> list[Account]: ...

    def transactions(
        self,
        basiq_user_id: str,
        *,
        connection_id: str | None = None,
        account_id: str | None = None,
        since: date | None = None,
        until: date | None = None,
        status: str | None = None,
    ) -> list[Transaction]: ...

    def refresh(self, basiq_user_id: str, connection_id: str) -> Job: ...

    def job(self, basiq_user_id: str, job_id: str) -> Job: ...

    def delete_connection(self, basiq_user_id: str, connection_id: str) -> None: ...


@dataclass(frozen=True)
class Fetch:
    """What one fetch changed."""

    connection_id: str
    accounts: int  # how many the connection has now
    added: int
    updated: int
    removed: int
    since: str | None  # the day an incremental fetch started from; None: everything
    fetched: str


@dataclass(frozen=True)
class Refreshed:
    """One connection's refresh: what the fetch after it changed, or why it failed."""

    connection_id: str
    fetch: Fetch | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


class ConnectionManager:
    def __init__(
        self,
        store: Store,
        source: DataSource,
        *,
        poll: float = POLL,
        patience: float = PATIENCE,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.ledger = Ledger(store)
        self._source = source
        self._poll = poll
        self._patience = patience
        self._sleep = sleep
        self._clock = clock

    # reading: the ledger alone, never Basiq
    def connection(self, connection_id: str) -> StoredConnection:
        """The stored connection, or a BlinkError that says how to find the right id."""
        row = self.store.connection(connection_id)
        if row is None:
            raise UnknownId(
                f"No bank connection has the id {connection_id!r} here; "
                "`blink-desktop connections` lists them."
            )
        return row

    def page(self, connection_id: str) -> dict[str, Any]:
        """A connection as its page shows it: the bank, its status, method, when created,
        refreshed and fetched, its accounts, and how many transactions are kept."""
        row = self.connection(connection_id)
        fetched = self.ledger.fetched(connection_id)
        return {
            "id": row.id,
            "institution": row.institution,
            "institution_id": row.institution_id,
            "logo": row.logo,
            "status": row.status,
            "method": row.method,
            "detail": row.detail,
            "created": row.created,
            # The connect's own job retrieved the data first; a refresh does it again.
            "last_refreshed": (fetched.refreshed if fetched else None) or row.created,
            "fetched": fetched.fetched if fetched and fetched.fetched else None,
            "accounts": [asdict(item) for item in self.ledger.accounts(connection_id)],
            "transactions": self.ledger.count(connection_id),
        }

    def accounts(self, connection_id: str | None = None) -> list[StoredAccount]:
        if connection_id is not None:
            self.connection(connection_id)
        return self.ledger.accounts(connection_id)

    def transactions(
        self,
        connection_id: str | None = None,
        account_id: str | None = None,
        since: date | None = None,
        until: date | None = None,
    ) -> list[StoredTransaction]:
        """Newest first; `since` and `until` are days, both included."""
        if connection_id is not None:
            self.connection(connection_id)
        if account_id is not None and self.ledger.account(account_id) is None:
            raise UnknownId(
                f"No account has the id {account_id!r} here; `blink-desktop accounts` lists them."
            )
        if since and until and since > until:
            raise BadRequest(f"The dates are the wrong way round: {since} is after {until}.")
        return self.ledger.transactions(connection_id, account_id, since, until)

    # Basiq
    def fetch(self, connection_id: str) -> Fetch:
        """The connection's accounts, and its transactions: all the first time, then those
        posted since the newest kept (less OVERLAP) and those pending."""
        row = self.connection(connection_id)
        user = row.user_id
        since = self._resume_from(connection_id)
        try:
            accounts = self._source.accounts(user, connection_id)
            if since is None:
                found = self._source.transactions(user, connection_id=connection_id)
            else:
                found = self._source.transactions(user, connection_id=connection_id, since=since)
                found += self._source.transactions(
                    user, connection_id=connection_id, status="pending"
                )
        except ApiError as exc:
            raise _failed(
                f"Could not fetch {_bank(row)}'s accounts and transactions: {exc}", exc
            ) from exc
        listed = {item.id for item in found}
        gone = sorted(self.ledger.ids(connection_id, since=since) - listed)
        with self.ledger.writing("the accounts and transactions") as tx:
            tx.replace_accounts(connection_id, accounts)
            added, updated = tx.upsert_transactions(connection_id, found)
            removed = tx.remove_transactions(connection_id, gone)
            tx.mark_fetched(connection_id)
            stamp = tx.stamp
        result = Fetch(
            connection_id,
            len(accounts),
            added,
            updated,
            removed,
            since.isoformat() if since else None,
            stamp,
        )
        log.info(
            "fetched %s: %d accounts, %d transactions new, %d changed, %d gone (%s)",
            connection_id,
            len(accounts),
            added,
            updated,
            removed,
            f"since {since}" if since else "all",
        )
        return result

    def _resume_from(self, connection_id: str) -> date | None:
        if self.ledger.fetched(connection_id) is None:
            return None
        latest = self.ledger.latest_posted(connection_id)
        if latest is None:
            return None
        # A pending one posts on or after the day it was made: fetch from there too.
        pending = self.ledger.earliest_pending(connection_id)
        start = latest - OVERLAP
        return min(start, pending) if pending else start

    def refresh(self, connection_id: str, on_step: StepCallback | None = None) -> Fetch:
        """Ask Basiq to fetch from the bank again, follow the job's steps (`on_step(title,
        status)` as each changes), then fetch here. A failure raises BlinkError in words."""
        row = self.connection(connection_id)
        try:
            job = self._source.refresh(row.user_id, connection_id)
        except ApiError as exc:
            raise _failed(f"Could not refresh {_bank(row)}: {exc}", exc) from exc
        outcome = self._follow([(row, job)], _for_one(on_step))[connection_id]
        if isinstance(outcome, BlinkError):
            raise outcome
        return self._settled(row, outcome)

    def refresh_one(
        self, connection_id: str, on_step: Callable[[str, str, str], None] | None = None
    ) -> Refreshed:
        """`refresh`, answered as `refresh_all` answers for each connection: with
        `on_step(connection id, title, status)`, and a failure in words rather than raised."""
        step = on_step or (lambda *_: None)
        try:
            fetched = self.refresh(
                connection_id, lambda title, status: step(connection_id, title, status)
            )
        except BlinkError as exc:
            return Refreshed(connection_id, error=str(exc))
        return Refreshed(connection_id, fetched)

    def refresh_all(
        self,
        on_step: Callable[[str, str, str], None] | None = None,
        *,
        user_id: str | None = None,
    ) -> list[Refreshed]:
        """Refresh every stored connection (of the Basiq user `user_id`, when given) at once;
        `on_step(connection id, title, status)`. One failing does not stop the others: each
        answer says how its own went."""
        rows = [row for row in self.store.connections() if user_id in (None, row.user_id)]
        started: list[tuple[StoredConnection, Job]] = []
        results: dict[str, Refreshed] = {}
        for row in rows:
            try:
                started.append((row, self._source.refresh(row.user_id, row.id)))
            except ApiError as exc:
                results[row.id] = Refreshed(row.id, error=f"Could not refresh {_bank(row)}: {exc}")
        followed = self._follow(started, on_step or (lambda *_: None))
        for row, _ in started:
            job = followed[row.id]
            if isinstance(job, BlinkError):
                results[row.id] = Refreshed(row.id, error=str(job))
                continue
            try:
                results[row.id] = Refreshed(row.id, self._settled(row, job))
            except BlinkError as exc:
                results[row.id] = Refreshed(row.id, error=str(exc))
        return [results[row.id] for row in rows]

    def _follow(
        self,
        jobs: Sequence[tuple[StoredConnection, Job]],
        on_step: Callable[[str, str, str], None],
    ) -> dict[str, Job | BlinkError]:
        """Each job, polled until done, telling each step's changes; or why it could not be
        followed to its end (Basiq failing, or PATIENCE running out)."""
        told: dict[str, dict[str, str]] = {row.id: {} for row, _ in jobs}
        followed: dict[str, Job | BlinkError] = {row.id: job for row, job in jobs}
        waiting = {row.id: row for row, _ in jobs}
        deadline = self._clock() + self._patience
        while waiting:
            for connection_id, row in list(waiting.items()):
                started = followed[connection_id]
                assert isinstance(started, Job)
                try:
                    job = self._source.job(row.user_id, started.id)
                except ApiError as exc:
                    followed[connection_id] = BlinkError(
                        f"Could not follow the refresh of {_bank(row)}: {exc}"
                    )
                    del waiting[connection_id]
                    continue
                followed[connection_id] = job
                for step in job.steps:
                    if told[connection_id].get(step.title) != step.status:
                        told[connection_id][step.title] = step.status
                        on_step(connection_id, step.title, step.status)
                if job.steps and job.done:
                    del waiting[connection_id]
            if waiting and self._clock() >= deadline:
                for connection_id, row in waiting.items():
                    followed[connection_id] = BlinkError(
                        f"The refresh of {_bank(row)} did not finish in {self._patience:.0f} s; "
                        "Basiq may still finish it. Try again later."
                    )
                break
            if waiting:
                self._sleep(self._poll)
        return followed

    def _settled(self, row: StoredConnection, job: Job) -> Fetch:
        """The refresh's job is done: the connection's status as it says, then a fetch."""
        failure = job.failure() if job.failed else None
        if job.failed:
            invalid = failure is not None and failure.code == "invalid-credentials"
            if invalid:
                with self.store.writing("the connection status") as tx:
                    tx.set_status(row.id, "invalid", "refresh")
            why = failed_refresh(_bank(row), failure)
            log.info("refresh of %s failed: %s", row.id, why)
            raise BlinkError(why)
        with self.ledger.writing("the refresh") as tx:
            tx.mark_refreshed(row.id)
            if row.status != "active":
                tx.set_status(row.id, "active", "refresh")
        return self.fetch(row.id)

    def delete(self, connection_id: str) -> StoredConnection:
        """Delete the connection at Basiq, then here with its accounts and transactions; the
        event log keeps a line. Nothing is deleted here if Basiq refuses."""
        row = self.connection(connection_id)
        bank = _bank(row)
        try:
            self._source.delete_connection(row.user_id, connection_id)
        except ApiError as exc:
            raise _failed(
                f"Could not delete {bank} at Basiq, so it was kept here too: {exc}", exc
            ) from exc
        raw = json.dumps({"event": "deleted", "connection": connection_id, "institution": bank})
        with self.store.writing("the deletion") as tx:
            tx.remove_connection(connection_id)
            tx.log_event(
                ORIGIN,
                raw,
                event="deleted",
                accepted=True,
                reason=f"{bank} deleted at Basiq and here, with its accounts and transactions",
            )
        log.info("deleted connection %s (%s) at Basiq and here", connection_id, bank)
        return row


def _for_one(on_step: StepCallback | None) -> Callable[[str, str, str], None]:
    def told(connection_id: str, title: str, status: str) -> None:
        if on_step is not None:
            on_step(title, status)

    return told


def _bank(row: StoredConnection) -> str:
    return row.institution or "the bank"


def failed_refresh(bank: str, failure: StepResult | None) -> str:
    """Why a refresh failed, in words a person can act on."""
    code = failure.code if failure else None
    said = (failure.detail or failure.title) if failure else None
    basiq = f" (Basiq: {said})" if said else ""
    if code == "invalid-credentials":
        return (
            f"{bank} refused the saved password: it may have changed at the bank. Use Fix to "
            f"sign in to {bank} again{basiq}."
        )
    if code in ("user-action-required", "account-not-accessible-requires-user-action"):
        return (
            f"{bank} wants you to do something first: sign in to {bank}'s website or app and "
            f"follow what it asks, then use Fix{basiq}."
        )
    if code in (
        "system-unavailable",
        "service-unavailable",
        "maintenance",
        "institution-not-available",
    ):
        return f"{bank} is not available right now{basiq}. Try again later."
    if code == "job-timed-out":
        return f"{bank} took too long to answer{basiq}. Try again later."
    reason = basiq or (f" ({code})" if code else "")
    return f"{bank} could not be refreshed{reason}. Try again later."


def _failed(message: str, cause: ApiError) -> BlinkError:
    """The words for a call to Basiq that failed; still ApiUnavailable when Basiq was out of
    reach, which the window offers to try again and the connection page shows as offline."""
    return ApiUnavailable(message) if isinstance(cause, ApiUnavailable) else BlinkError(message)

"""What the window's connection page asks of the app: one connection's data, a refresh with its
steps live, delete, export, and the Simulate menu; bridge.py turns each into a bridge method.

The data comes from the connection manager (manager.py): stored, so the page shows it at once
and offline, then `fetch` brings it up to date. A refresh runs on a thread of its own and the
page polls `progress` for its steps, since a bridge call answers once. Simulate drives the
embedded emulator through `Upstream.simulator` (upstream.py); the app never imports emulator/.
"""

from __future__ import annotations

import itertools
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from blink_desktop.app import exports
from blink_desktop.errors import ApiUnavailable, BlinkError

if TYPE_CHECKING:
    from blink_desktop.app.manager import ConnectionManager
    from blink_desktop.app.starting import Awaited
    from blink_desktop.app.wiring import App

log = logging.getLogger(__name__)

START_TIMEOUT = 60.0
MAX_DAYS = 365.0  # what Simulate lets pass at once
KEPT_TASKS = 20

# Where to save an export: given the suggested file name and the format; None if cancelled.
AskWhere = Callable[[str, exports.Format], Path | None]


@dataclass
class Task:
    """One refresh (of a connection, or of all): each step as the job reports it."""

    id: str
    connection_id: str | None
    steps: list[dict[str, str]] = field(default_factory=list)
    failures: list[dict[str, str]] = field(default_factory=list)
    done: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def step(self, connection_id: str, title: str, status: str) -> None:
        with self.lock:
            for step in self.steps:
                if step["connection"] == connection_id and step["title"] == title:
                    step["status"] = status
                    return
            self.steps.append({"connection": connection_id, "title": title, "status": status})

    def to_json(self) -> dict[str, Any]:
        with self.lock:
            return {
                "task": self.id,
                "steps": [dict(step) for step in self.steps],
                "failures": list(self.failures),
                "done": self.done,
            }


class ConnectionPages:
    def __init__(self, app: Awaited[App], ask_where: AskWhere | None = None) -> None:
        """`app` may still be starting; `ask_where` is the save dialog (window.py sets it)."""
        self._app = app
        self.ask_where = ask_where
        self._tasks: dict[str, Task] = {}
        self._running: Task | None = None
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def _started(self) -> App:
        try:
            return self._app.result(START_TIMEOUT)
        except TimeoutError:
            raise ApiUnavailable("blink-desktop is still starting; try again.") from None

    def _manager(self) -> ConnectionManager:
        return self._started().manager

    def _mine(self, connection_id: object) -> str:
        """A connection id of the person using the window, or a BlinkError in words."""
        app = self._started()
        text = connection_id if isinstance(connection_id, str) else ""
        row = app.store.connection(text) if text else None
        if row is None or row.user_id != app.service.basiq_user_id():
            raise BlinkError("That bank connection is not in your list any more.")
        return text

    # reading
    def page(self, connection_id: object) -> dict[str, Any]:
        """The connection, its accounts, and whether Simulate is offered (emulator only)."""
        app = self._started()
        shown = self._manager().page(self._mine(connection_id))
        accounts = [
            {
                "id": account["id"],
                "name": account["name"],
                "number": account["number"],
                "type": account["type"],
                "balance": account["balance"],
                "available": account["available"],
                "currency": account["currency"],
            }
            for account in shown["accounts"]
        ]
        connection = {
            "id": shown["id"],
            "institution": shown["institution"],
            "logo": shown["logo"],
            "status": shown["status"],
            "method": shown["method"],
            "created": shown["created"],
            "refreshed": shown["last_refreshed"],
            "fetched": shown["fetched"],
        }
        simulate = app.upstream is not None and app.upstream.simulator is not None
        return {"connection": connection, "accounts": accounts, "simulate": simulate}

    def transactions(self, connection_id: object, limit: object = None) -> dict[str, Any]:
        """The connection's stored transactions, newest first (the newest `limit` only, when
        given), each as a short list: id, day (YYYY-MM-DD), description, amount, direction,
        account id, category, status; `total` and whether these are all of them."""
        manager = self._manager()
        wanted = self._mine(connection_id)
        if isinstance(limit, int) and not isinstance(limit, bool) and limit > 0:
            found = manager.ledger.transactions(wanted, limit=limit)
            total = manager.ledger.count(wanted)
        else:
            found = manager.transactions(wanted)
            total = len(found)
        rows = [
            [
                item.id,
                item.date,
                item.description,
                item.amount,
                item.direction,
                item.account_id,
                item.category,
                item.status,
            ]
            for item in found
        ]
        return {"rows": rows, "total": total, "complete": len(rows) == total}

    # Basiq
    def fetch(self, connection_id: object) -> dict[str, Any]:
        """What changed at Basiq since the last fetch. Basiq out of reach is ApiUnavailable,
        which the page shows as "offline" beside when the data was fetched."""
        fetched = self._manager().fetch(self._mine(connection_id))
        changed = bool(fetched.added or fetched.updated or fetched.removed)
        return {"changed": changed, "fetched": fetched.fetched}

    def refresh(self, connection_id: object) -> dict[str, Any]:
        """Start refreshing one connection (or all of the person's, for None) on a thread; the
        page follows it with `progress`. One refresh at a time: a second gets the first."""
        manager = self._manager()
        wanted = None if connection_id is None else self._mine(connection_id)
        with self._lock:
            if self._running is not None and not self._running.done:
                return {"task": self._running.id}
            task = Task(f"refresh-{next(self._ids)}", wanted)
            self._tasks[task.id] = task
            self._running = task
            for old in list(self._tasks)[:-KEPT_TASKS]:
                del self._tasks[old]
        threading.Thread(
            target=self._refresh, args=(manager, task), name=task.id, daemon=True
        ).start()
        return {"task": task.id}

    def _refresh(self, manager: ConnectionManager, task: Task) -> None:
        try:
            if task.connection_id is not None:
                done = [manager.refresh_one(task.connection_id, task.step)]
            else:
                # The window shows one person's connections: Refresh all is theirs alone.
                mine = self._started().service.basiq_user_id()
                done = [] if mine is None else manager.refresh_all(task.step, user_id=mine)
            for result in done:
                if result.error:
                    task.failures.append(
                        {"connection": result.connection_id, "error": result.error}
                    )
        except Exception:
            log.exception("refreshing failed")
            task.failures.append(
                {
                    "connection": task.connection_id or "",
                    "error": "The refresh stopped inside blink-desktop; its log has the details.",
                }
            )
        finally:
            task.done = True

    def progress(self, task_id: object) -> dict[str, Any]:
        task = self._tasks.get(task_id) if isinstance(task_id, str) else None
        if task is None:
            raise BlinkError("That refresh is not this window's.")
        return task.to_json()

    def delete(self, connection_id: object) -> dict[str, Any]:
        row = self._manager().delete(self._mine(connection_id))
        return {"deleted": row.id, "institution": row.institution}

    def export(self, connection_id: object, fmt: object) -> dict[str, Any]:
        """Ask where (the save dialog), then write the connection's transactions, or all of
        the person's for None. {"cancelled": true} when the person closes the dialog."""
        chosen = exports.parse_format(fmt)
        app = self._started()
        manager = self._manager()
        if connection_id is None:
            user = app.service.basiq_user_id()
            mine = {row.id for row in app.store.connections() if row.user_id == user}
            found = [item for item in manager.transactions() if item.connection_id in mine]
            bank = None
        else:
            wanted = self._mine(connection_id)
            found = manager.transactions(wanted)
            row = app.store.connection(wanted)
            bank = row.institution if row else None
        if self.ask_where is None:
            raise BlinkError("This window cannot show a save dialog.")
        path = self.ask_where(exports.suggested_name(bank or None, chosen), chosen)
        if path is None:
            return {"cancelled": True}
        written = exports.write(path, found, chosen)
        log.info("exported %d transactions to %s", len(found), written)
        return {"path": str(written), "count": len(found), "format": chosen}

    # Simulate (emulator mode)
    def simulate(
        self, action: object, connection_id: object, days: object = None
    ) -> dict[str, Any]:
        upstream = self._started().upstream
        simulator = upstream.simulator if upstream is not None else None
        if simulator is None:
            raise BlinkError("Simulate works on the embedded emulator only.")
        if action == "break":
            wanted = self._mine(connection_id)
            try:
                simulator.break_connection(wanted)
            except LookupError:
                raise BlinkError("The emulator does not know this connection.") from None
            return {
                "message": "Broken: as if its password changed at the bank. "
                "The next refresh will fail, and Fix will mend it."
            }
        if action == "pass-time":
            amount = days if isinstance(days, int | float) and not isinstance(days, bool) else -1
            if not 0 < amount <= MAX_DAYS:
                raise BlinkError(f"Let between a few hours and {MAX_DAYS:.0f} days pass.")
            simulator.pass_time(days=float(amount))
            self._started().service.forget_tokens()  # older than their lifetime now
            return {
                "message": f"{amount:g} day{'s' if amount != 1 else ''} passed at the banks. "
                "Refresh to fetch the new transactions."
            }
        if action == "expire-tokens":
            simulator.expire_tokens()
            self._started().service.forget_tokens()
            return {
                "message": "Every token issued so far has expired; "
                "blink-desktop gets new ones as it needs them."
            }
        raise BlinkError("Simulate offers: break, pass-time and expire-tokens.")

"""Webhooks: the emulator tells an application what happened, as Basiq does.

Registrations (`POST`, `GET`, `DELETE /notifications/webhooks`) live in the state. Each event
(events.py) becomes one message per webhook subscribed to its type. A background thread, never
a request's, delivers the messages signed the Standard Webhooks way by the `standardwebhooks`
library (the scheme Basiq documents: `webhook-id`, `webhook-timestamp` and `webhook-signature`
headers over `{id}.{timestamp}.{body}`), one at a time per webhook and so in order while the
receiver takes them, and retries one the receiver did not take (no answer, or one outside 2xx)
on Basiq's schedule divided by the job speed, timed by the emulator's clock; a message waiting
for its retry does not hold back the others.
While any webhook is registered the same thread also settles jobs, so events that come from a
job's progress go out even when nobody polls the job.
"""

from __future__ import annotations

import base64
import json
import logging
import secrets
import sqlite3
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import requests
from standardwebhooks.webhooks import Webhook

from blink_desktop.emulator import events
from blink_desktop.emulator.bodies import WebhookBody, parse
from blink_desktop.emulator.clock import Clock
from blink_desktop.emulator.links import Links
from blink_desktop.emulator.problems import Problem, not_found, not_supplied, not_valid
from blink_desktop.emulator.state import Row, State

log = logging.getLogger("blink_desktop.emulator.webhooks")

# Seconds before each attempt, after the previous one failed: at once, then 5 s, 5 min, 30 min,
# 2 h, 5 h, 10 h and 10 h (Basiq's delivery schedule).
SCHEDULE = (0.0, 5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0, 36000.0)
POLL_SECONDS = 0.05  # real time between looks at the clock while a webhook is registered
TIMEOUT = (3.05, 10.0)
SENDERS = 4
Json = dict[str, Any]


class Webhooks:
    def __init__(
        self,
        state: State,
        *,
        clock: Clock,
        links: Links,
        speed: float = 1.0,
        settle: Callable[[], None] = lambda: None,
    ) -> None:
        self.state = state
        self.clock = clock
        self.links = links
        self.speed = speed
        self.settle = settle
        self._wake = threading.Condition()
        self._kicked = False
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._senders: ThreadPoolExecutor | None = None
        self._sending: dict[str, str] = {}  # webhook id: the message on its way to it
        self._last_error = ""

    # registrations
    def create(self, body: Any) -> Row:
        request = parse(WebhookBody, body, "webhook")
        url = _checked_url(request.url)
        if self.state.one("SELECT id FROM webhooks WHERE url = ?", url):
            raise Problem(
                409,
                "resource-already-exists",
                "Resource already exists",
                "Webhook with provided url already exists.",
                parameter="url",
            )
        secret = "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()
        webhook_id = str(uuid.uuid4())
        self.state.run(
            "INSERT INTO webhooks (id, name, description, url, secret, events, created)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            webhook_id,
            request.name or "",
            request.description or "",
            url,
            secret,
            json.dumps(request.event_types(events.EVENT_TYPES)),
            self.clock(),
        )
        self.kick()
        return self.get(webhook_id)

    def all(self) -> list[Row]:
        return self.state.all("SELECT * FROM webhooks ORDER BY created, id")

    def get(self, webhook_id: str) -> Row:
        row = self.state.one("SELECT * FROM webhooks WHERE id = ?", webhook_id)
        if row is None:
            raise not_found("webhook", "webhookId")
        return row

    def delete(self, webhook_id: str) -> None:
        """Remove a webhook; its messages not yet delivered are dropped with it."""
        if self.state.run("DELETE FROM webhooks WHERE id = ?", webhook_id) == 0:
            raise not_found("webhook", "webhookId")

    def messages(self, webhook_id: str | None = None) -> list[Row]:
        """Each message and how its delivery stands: pending, delivered or failed."""
        if webhook_id is None:
            return self.state.all("SELECT * FROM deliveries ORDER BY rowid")
        return self.state.all(
            "SELECT * FROM deliveries WHERE webhook_id = ? ORDER BY rowid", webhook_id
        )

    # messages
    def publish(self, event: Row) -> None:
        """One message per webhook subscribed to the event's type, sent from the thread."""
        body = events.notification(event, self.links)
        for hook in self.all():
            if event["type"] in json.loads(hook["events"]):
                self.state.run(
                    "INSERT INTO deliveries (id, webhook_id, event_id, body, next_at)"
                    " VALUES (?, ?, ?, ?, ?)",
                    f"msg_{uuid.uuid4().hex}",
                    hook["id"],
                    event["id"],
                    body,
                    event["created"],
                )
        self.kick()

    # the thread
    def start(self) -> None:
        if self._thread is not None:
            return
        self._senders = ThreadPoolExecutor(SENDERS, thread_name_prefix="emulator-webhook")
        self._thread = threading.Thread(target=self._run, name="emulator-webhooks", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        with self._wake:
            self._stopping = True
            self._wake.notify_all()
        if self._thread is not None:
            self._thread.join(10)
        if self._senders is not None:
            # A receiver that hangs must not hold the emulator open: sends finish on their own.
            self._senders.shutdown(wait=False, cancel_futures=True)

    def kick(self) -> None:
        """Look again now rather than at the next poll (a new webhook, a new message)."""
        with self._wake:
            self._kicked = True
            self._wake.notify_all()

    def _run(self) -> None:
        while True:
            active = self._any()
            if active:
                self._work()
            with self._wake:
                if self._stopping:
                    return
                if not self._kicked:
                    # With no webhook there is nothing to send: sleep until one is registered.
                    self._wake.wait(POLL_SECONDS if active else None)
                self._kicked = False
                if self._stopping:
                    return

    def _any(self) -> bool:
        try:
            return self.state.one("SELECT 1 AS one FROM webhooks LIMIT 1") is not None
        except sqlite3.ProgrammingError:  # the state was closed under a stopping emulator
            return False

    def _work(self) -> None:
        try:
            self.settle()
            due = self.state.all(
                "SELECT d.*, w.url, w.secret FROM deliveries d JOIN webhooks w"
                " ON w.id = d.webhook_id WHERE d.status = 'pending' AND d.next_at <= ?"
                " ORDER BY d.next_at, d.rowid",
                self.clock(),
            )
        except Exception as exc:
            if repr(exc) != self._last_error:  # once, not twenty times a second
                self._last_error = repr(exc)
                log.error("the webhook thread failed: %r", exc, exc_info=exc)
            return
        for message in due:
            hook = message["webhook_id"]
            if hook in self._sending or self._senders is None:
                continue
            self._sending[hook] = message["id"]
            try:
                self._senders.submit(self._send, message)
            except RuntimeError:  # shut down: the emulator is stopping
                self._sending.pop(hook, None)
                return

    def _send(self, message: Row) -> None:
        try:
            ok, answer = self._post(message)
            attempts = message["attempts"] + 1
            if ok:
                status, next_at = "delivered", None
            elif attempts >= len(SCHEDULE):
                status, next_at = "failed", None
            else:
                status, next_at = "pending", self.clock() + SCHEDULE[attempts] / self.speed
            log.info(
                "webhook message %s to %s: %s (attempt %d, %s)",
                message["id"],
                message["url"],
                answer,
                attempts,
                status if next_at is None else f"again in {SCHEDULE[attempts]:g} s",
            )
            self.state.run(
                "UPDATE deliveries SET attempts = ?, status = ?, next_at = ?, last_answer = ?"
                " WHERE id = ?",
                attempts,
                status,
                next_at,
                answer,
                message["id"],
            )
        except sqlite3.ProgrammingError:
            pass  # the emulator stopped while this message was on its way
        finally:
            self._sending.pop(message["webhook_id"], None)
            self.kick()

    def _post(self, message: Row) -> tuple[bool, str]:
        timestamp = int(self.clock())
        signature = Webhook(message["secret"]).sign(
            message["id"], datetime.fromtimestamp(timestamp, UTC), message["body"]
        )
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "blink-desktop-emulator",
            "webhook-id": message["id"],
            "webhook-timestamp": str(timestamp),
            "webhook-signature": signature,
        }
        try:
            with requests.Session() as http:
                http.trust_env = False  # straight to the receiver, whatever proxy is set
                answer = http.post(
                    message["url"],
                    data=message["body"].encode(),
                    headers=headers,
                    timeout=TIMEOUT,
                    allow_redirects=False,
                )
        except requests.RequestException as exc:
            return False, type(exc).__name__
        return 200 <= answer.status_code < 300, f"HTTP {answer.status_code}"


def view(row: Row, links: Links) -> Json:
    return {
        "type": "webhook",
        "id": row["id"],
        "name": row["name"],
        "description": row["description"],
        "url": row["url"],
        "status": "active",
        "secret": row["secret"],
        "subscribedEvents": json.loads(row["events"]),
        "links": {"self": links.webhook(row["id"])},
    }


def listed(rows: list[Row], links: Links) -> Json:
    return {
        "type": "list",
        "count": len(rows),
        "size": len(rows),
        "data": [view(row, links) for row in rows],
        "links": {"self": links.webhooks()},
    }


def _checked_url(url: str | None) -> str:
    if not url or not url.strip():
        raise not_supplied("url parameter is required.", "url", "webhook/url")
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise not_valid("url must be an absolute http or https URL.", "url", "webhook/url")
    return url

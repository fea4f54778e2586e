"""Basiq's webhooks, received at `POST /webhooks/basiq`.

`Receiver.receive` checks a delivery with the `standardwebhooks` library against the webhook's
secret (BLINK_DESKTOP_WEBHOOK_SECRET, or the one an embedded emulator gave when `serve`
registered there: `register`): a delivery without the three `webhook-*` headers, with a
signature that does not verify, or with a timestamp more than 5 minutes away from now is
refused with 400 and a log line, before its body is looked at. A verified one is recorded
under its `webhook-id` and answered at once; a repeated id (Basiq's retry, or the same message
reaching two instances) is answered the same way and records nothing more. Nothing slow runs
before the answer: when the event happened is read later, by the resolver (resolver.py).

`statuses` is what the recorded `connection.*` events say of each connection, for
`GET /users/{id}/connections`: the latest event by when it happened at Basiq (by when it
arrived, until its event is read), and `deleted` for good once a connection was deleted.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from blink_desktop.basiq.http import JsonHttp
from blink_desktop.errors import BlinkError
from blink_desktop.server.bodies import ID, Refused
from blink_desktop.server.store import ConnectionEvent, ReceivedWebhook, Store

log = logging.getLogger("blink_desktop.server")

PATH = "/webhooks/basiq"
HEADERS = ("webhook-id", "webhook-timestamp", "webhook-signature")
MESSAGE_ID = re.compile(r"[A-Za-z0-9_.:-]{1,200}")
EVENT_TYPE = re.compile(r"[a-z]+(\.[a-z_]+)+")
# An entity link: /users/{user}, …/connections/{connection}, or another path under the user.
ENTITY = re.compile(
    r"/users/([A-Za-z0-9_-]{1,128})(?=/|$)(?:/connections/([A-Za-z0-9_-]{1,128})/?$)?"
)

STATUS = {
    "connection.created": "created",
    "connection.activated": "active",
    "connection.invalidated": "invalid",
    "connection.deleted": "deleted",
}
NOT_CONFIGURED = (
    "This server does not take webhooks yet: its BLINK_DESKTOP_WEBHOOK_SECRET is not set."
)


class Receiver:
    """Verifies and records deliveries; `recorded()` is called after each new one (it wakes
    the resolver). `secret` may be set later, once an embedded emulator has given one."""

    def __init__(
        self,
        store: Store,
        secret: str | None = None,
        *,
        recorded: Callable[[], None] = lambda: None,
    ) -> None:
        self.store = store
        self.secret = secret
        self.recorded = recorded

    def receive(self, body: bytes, headers: Mapping[str, str]) -> dict[str, Any]:
        """Verify, then record once; the answer's result, or a Refused."""
        message_id = self._verified(body, {k.lower(): v for k, v in headers.items()})
        webhook = _parsed(message_id, body)
        new = self.store.record_webhook(webhook)
        if new:
            log.info("webhook %s %s recorded", message_id, webhook.event_type)
            self.recorded()
        else:
            log.info("webhook %s %s repeated: recorded already", message_id, webhook.event_type)
        return {"id": message_id, "duplicate": not new}

    def _verified(self, body: bytes, headers: dict[str, str]) -> str:
        secret = self.secret
        if not secret:
            log.warning("webhook refused: %s", NOT_CONFIGURED)
            raise Refused(503, NOT_CONFIGURED, "webhooks-not-configured")
        message_id = headers.get("webhook-id", "")
        if not all(headers.get(name) for name in HEADERS):
            raise _refused("webhook-unsigned", "it has no webhook-id, timestamp or signature")
        try:
            Webhook(secret).verify(body, headers, json_parse=False)
        except WebhookVerificationError as exc:
            if "timestamp too" in str(exc):
                raise _refused(
                    "webhook-stale", "its timestamp is more than 5 minutes away", message_id
                ) from None
            raise _refused("webhook-signature-invalid", "its signature", message_id) from None
        except ValueError:  # a malformed signature list, or a body that is not UTF-8
            raise _refused("webhook-signature-invalid", "its signature", message_id) from None
        return message_id


def _refused(code: str, why: str, message_id: str = "") -> Refused:
    shown = f" (webhook-id {message_id[:80]!r})" if message_id else ""
    if code == "webhook-signature-invalid":
        why = f"{why} does not verify against the webhook's secret"
    log.warning("webhook refused, %s: %s%s", code, why, shown)
    return Refused(400, f"The webhook was refused: {why}.", code)


def _parsed(message_id: str, body: bytes) -> ReceivedWebhook:
    """What a verified body says, or 400 `webhook-invalid` (logged) if it is not a webhook."""
    try:
        message = json.loads(body)
    except ValueError:
        message = None
    if not isinstance(message, dict):
        message = {}
    event_type, event_id = message.get("eventTypeId"), message.get("eventId")
    links = message.get("links")
    entity = links.get("eventEntity") if isinstance(links, dict) else None
    if not (
        MESSAGE_ID.fullmatch(message_id)
        and isinstance(event_type, str)
        and EVENT_TYPE.fullmatch(event_type)
        and len(event_type) <= 100
        and isinstance(event_id, str)
        and ID.fullmatch(event_id)
    ):
        log.warning("webhook refused, webhook-invalid: not a Basiq webhook (%r)", message_id[:80])
        raise Refused(400, "The webhook was refused: it is not a Basiq webhook.", "webhook-invalid")
    user_id, connection_id = _entity(entity if isinstance(entity, str) else "")
    return ReceivedWebhook(
        message_id=message_id,
        event_id=event_id,
        event_type=event_type,
        basiq_user_id=user_id,
        connection_id=connection_id if event_type.startswith("connection.") else None,
        body=body.decode(),
    )


def _entity(link: str) -> tuple[str | None, str | None]:
    """The user, and the connection, that an event's entity link names."""
    found = ENTITY.search(urlsplit(link).path)
    return (found.group(1), found.group(2)) if found else (None, None)


def statuses(events: list[ConnectionEvent]) -> dict[str, str]:
    """Each connection's status as its events tell it (see the module's docstring)."""
    latest: dict[str, ConnectionEvent] = {}
    for event in events:
        if event.event_type not in STATUS:
            continue
        current = latest.get(event.connection_id)
        if current is None or _rank(event) > _rank(current):
            latest[event.connection_id] = event
    return {connection: STATUS[event.event_type] for connection, event in latest.items()}


def _rank(event: ConnectionEvent) -> tuple[bool, str, bool, int]:
    # Deleted is final; else the latest, and at the same time (Basiq dates to the second) what
    # followed creation; else the later arrival.
    return (
        event.event_type == "connection.deleted",
        event.occurred or event.received,
        event.event_type != "connection.created",
        event.seq,
    )


def register(http: JsonHttp, server_token: str, url: str) -> str:
    """Register `url` as the webhook of every event at an embedded emulator, replacing what an
    earlier run of this server registered there; the secret it signs them with."""
    headers = {"Authorization": f"Bearer {server_token}", "Accept": "application/json"}
    what = "the emulator's webhooks"
    status, listed = http.request("GET", "/notifications/webhooks", what=what, headers=headers)
    hooks = listed.get("data") if status == 200 else None
    for hook in hooks if isinstance(hooks, list) else []:
        if isinstance(hook, dict) and urlsplit(str(hook.get("url"))).path == PATH:
            path = f"/notifications/webhooks/{hook.get('id')}"
            http.request("DELETE", path, what=what, headers=headers)
    body = {"name": "blink-desktop serve", "description": "Every event, for serve", "url": url}
    status, created = http.request(
        "POST", "/notifications/webhooks", what=what, headers=headers, json=body
    )
    secret = created.get("secret")
    if status != 201 or not isinstance(secret, str):
        raise BlinkError(f"The embedded emulator refused this server's webhook ({status}).")
    return secret

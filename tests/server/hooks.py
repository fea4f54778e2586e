"""Basiq's webhooks as a test sends them: a body, signed with standardwebhooks as Basiq signs."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, datetime

import requests
from standardwebhooks.webhooks import Webhook

SECRET = "whsec_" + base64.b64encode(b"the webhook's secret, 24b").decode()
BASIQ = "https://au-api.basiq.io"


def message(
    event_type: str = "connection.activated",
    user: str = "u1",
    connection: str | None = "c1",
    event_id: str | None = None,
) -> bytes:
    """A delivery's body: which event, and the links to it and its entity."""
    event_id = event_id or str(uuid.uuid4())
    entity = f"{BASIQ}/users/{user}"
    if connection is not None:
        entity += f"/connections/{connection}"
    body = {
        "eventTypeId": event_type,
        "eventId": event_id,
        "links": {"event": f"{BASIQ}/events/{event_id}", "eventEntity": entity},
    }
    return json.dumps(body, separators=(",", ":")).encode()


def signed(
    body: bytes,
    *,
    secret: str = SECRET,
    message_id: str | None = None,
    at: datetime | None = None,
) -> dict[str, str]:
    """The headers of a delivery of `body`, signed with `secret` at `at` (now)."""
    message_id = message_id or f"msg_{uuid.uuid4().hex}"
    at = at or datetime.now(UTC)
    return {
        "Content-Type": "application/json",
        "webhook-id": message_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": Webhook(secret).sign(message_id, at, body.decode()),
    }


def deliver(url: str, body: bytes, headers: dict[str, str]) -> requests.Response:
    """POST a delivery to a server's receiver, as Basiq does."""
    return requests.post(f"{url}/webhooks/basiq", data=body, headers=headers, timeout=10)

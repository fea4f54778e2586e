"""What happened, as Basiq's events: each stored once, readable at `GET /events/{id}`, and handed
to `publish` (the webhooks, which deliver it to those subscribed to its type).

An event keeps a snapshot of its entity as it was then (`data`), in basiq-version 3.0's shapes,
and `dataRef`, the entity's address now. Its type is `entity.eventType`, e.g.
`connection.created`.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

from blink_desktop.emulator import views
from blink_desktop.emulator.clock import Clock
from blink_desktop.emulator.links import Links
from blink_desktop.emulator.problems import not_found
from blink_desktop.emulator.state import Row, State

Json = dict[str, Any]

# Every type Basiq lists (GET /events/types); webhooks may subscribe to any of them.
EVENT_TYPES = (
    "account.updated",
    "connection.created",
    "connection.activated",
    "connection.invalidated",
    "connection.deleted",
    "consent.created",
    "consent.updated",
    "consent.revoked",
    "consent.expired",
    "consent.warning",
    "consent.reminder",
    "consent.archived",
    "transactions.updated",
    "user.created",
    "user.updated",
    "user.deleted",
)


class Events:
    def __init__(
        self,
        state: State,
        *,
        clock: Clock,
        links: Links,
        publish: Callable[[Row], None] = lambda event: None,
    ) -> None:
        self.state = state
        self.clock = clock
        self.links = links
        self.publish = publish

    def emit(self, event_type: str, user_id: str | None, data_ref: str, data: Json) -> Row:
        assert event_type in EVENT_TYPES, event_type
        row: Row = {
            "id": str(uuid.uuid4()),
            "type": event_type,
            "user_id": user_id,
            "created": self.clock(),
            "data_ref": data_ref,
            "data": json.dumps(data),
        }
        self.state.run(
            "INSERT INTO events (id, type, user_id, created, data_ref, data)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            *row.values(),
        )
        self.publish(row)
        return row

    def user(self, event_type: str, user: Row) -> None:
        user_id = user["id"]
        self.emit(event_type, user_id, self.links.user(user_id), views.new_user(user, self.links))

    def connection(self, event_type: str, row: Row) -> None:
        user_id = row["user_id"]
        data = views.connection(row, self.links, server=True, v3=True)
        self.emit(event_type, user_id, self.links.connection(user_id, row["id"]), data)

    def transactions(self, row: Row) -> None:
        """The connection's transactions were (re)retrieved; `data` is the connection."""
        user_id = row["user_id"]
        only_this = f"connection.id.eq('{row['id']}')"
        data = views.connection(row, self.links, server=True, v3=True)
        self.emit(
            "transactions.updated", user_id, self.links.transactions(user_id, only_this), data
        )

    def get(self, event_id: str) -> Row:
        row = self.state.one("SELECT * FROM events WHERE id = ?", event_id)
        if row is None:
            raise not_found("event")
        return row


def view(row: Row, links: Links) -> Json:
    """`GET /events/{id}`."""
    entity, _, event_type = row["type"].partition(".")
    return {
        "type": "event",
        "id": row["id"],
        "createdDate": views.iso(row["created"]),
        "entity": entity,
        "eventType": event_type,
        "userId": row["user_id"],
        "dataRef": row["data_ref"],
        "data": json.loads(row["data"]),
        "links": {"self": links.event(row["id"])},
    }


def notification(row: Row, links: Links) -> str:
    """The body a webhook delivers: which event, and where to read it and its entity."""
    body = {
        "eventTypeId": row["type"],
        "eventId": row["id"],
        "links": {"event": links.event(row["id"]), "eventEntity": row["data_ref"]},
    }
    return json.dumps(body, separators=(",", ":"))

"""MessagesView: message-status documents, the delivery index and the inbox.

The status document is rendered from the Message aggregate by the same renderer the
actors answer with, so a status read equals what the write returned. To get the
aggregate at each event the view keeps recently seen messages in memory and folds
the event in; on a miss it loads the aggregate at exactly that version.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Callable
from typing import Any
from uuid import UUID

from eventsourcing.domain import DomainEventProtocol

from atp.domain import Message
from atp.wire import iso, message_status
from projections._store import Cursor
from projections._view import View

__all__ = ["MessageLoader", "MessagesView"]

MessageLoader = Callable[[UUID, int], Message]
_CACHE_SIZE = 4096


class MessagesView(View):
    """Message statuses (with deliveries), delivery → message (with when a pending webhook
    delivery is due), open messages per recipient, and dead letters."""

    name = "messages"
    tables = ("atp_messages", "atp_deliveries", "atp_inbox")
    aggregates = (Message,)

    def __init__(self, load: MessageLoader) -> None:
        self._load = load
        self._cache: OrderedDict[UUID, Message] = OrderedDict()

    def reset(self) -> None:
        self._cache.clear()

    def apply(self, cur: Cursor, position: int, event: DomainEventProtocol[Any]) -> None:
        if not isinstance(event, Message.Sent | Message.Event):
            return
        message = self._fold(event)
        document = json.dumps(message_status(message), separators=(",", ":"))
        if isinstance(event, Message.Sent):
            cur.execute(
                "INSERT INTO atp_messages (id, position, sender_agent_id, sender_account_id,"
                " recipient_agent_id, recipient_account_id, trust, carrier_status, ack_status,"
                " created_at, document, session_id, session_sequence)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (message.message_id, position, message.sender_agent_id, message.sender_account_id,
                 message.recipient_agent_id, message.recipient_account_id, message.trust,
                 message.carrier_status, message.ack_status, iso(message.created_at), document,
                 message.session_id, message.session_sequence),
            )  # fmt: skip
        else:
            cur.execute(
                "UPDATE atp_messages SET carrier_status = ?, ack_status = ?, document = ?,"
                " dead_lettered_at = ? WHERE id = ?",
                (message.carrier_status, message.ack_status, document,
                 iso(message.dead_lettered_at), message.message_id),
            )  # fmt: skip
        pending = message.pending_webhook()
        for delivery in message.deliveries:
            due_at = iso(message.webhook_due_at()) if delivery is pending else None
            cur.execute(
                "INSERT INTO atp_deliveries (id, message_id, recipient_agent_id, mode, status,"
                " due_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE"
                " SET status = excluded.status, due_at = excluded.due_at",
                (delivery["id"], message.message_id, message.recipient_agent_id,
                 delivery["mode"], delivery["status"], due_at),
            )  # fmt: skip
        if message.is_open:
            cur.execute(
                "INSERT INTO atp_inbox (message_id, recipient_agent_id, position, expires_at)"
                " SELECT id, recipient_agent_id, position, ? FROM atp_messages WHERE id = ?"
                " ON CONFLICT (message_id) DO NOTHING",
                (iso(message.expires_at), message.message_id),
            )
        else:
            cur.execute("DELETE FROM atp_inbox WHERE message_id = ?", (message.message_id,))

    def _fold(self, event: DomainEventProtocol[Any]) -> Message:
        """The message as it stands right after ``event``."""
        cached = self._cache.pop(event.originator_id, None)
        if isinstance(event, Message.Sent):
            message = event.mutate(None)
        elif cached is not None and cached.version == event.originator_version - 1:
            message = event.mutate(cached)  # type: ignore[attr-defined]
        else:
            message = self._load(event.originator_id, event.originator_version)
        assert isinstance(message, Message)
        self._cache[event.originator_id] = message
        if len(self._cache) > _CACHE_SIZE:
            self._cache.popitem(last=False)
        return message

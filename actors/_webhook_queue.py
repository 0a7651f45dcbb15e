"""WebhookQueue: one mailbox's webhook deliveries still to try, and its attempts in flight.

Part of the mailbox's live state (the mailbox stays the only writer of its messages):
the messages whose webhook delivery waits for an attempt, oldest first; the deliveries
the dispatcher is attempting now, at most ``share`` of them, so that one slow receiver
cannot hold every slot of the dispatcher; and the attempts claimed in the batch being
committed, which go to the dispatcher only once that commit holds.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from datetime import datetime

from actors._dispatcher import WebhookJob
from atp.domain import Message, new_id
from atp.wire import message_envelope

__all__ = ["WebhookQueue"]


class WebhookQueue:
    """Webhook work of one recipient's messages."""

    def __init__(self, agent_id: str, *, share: int, lease_seconds: float) -> None:
        self.agent_id = agent_id
        self.share = share
        self.lease_seconds = lease_seconds
        self.waiting: OrderedDict[str, Message] = OrderedDict()
        self.in_flight: set[str] = set()  # delivery ids
        # Due, but an earlier turn of their session goes first (§6.4). No timer wakes
        # them: only a command to this mailbox can move that turn on, and every batch
        # looks at due deliveries again.
        self.held: set[str] = set()  # message ids
        self._claimed: list[WebhookJob] = []

    def clear(self) -> None:
        self.waiting.clear()
        self.in_flight.clear()
        self.held.clear()
        self._claimed.clear()

    def track(self, message: Message) -> None:
        """Follow ``message`` if it has a webhook delivery to try."""
        if message.pending_webhook() is not None:
            self.waiting[message.message_id] = message

    @property
    def full(self) -> bool:
        return len(self.in_flight) >= self.share

    def due(self, now: datetime) -> list[Message]:
        """Messages whose webhook delivery may be claimed now, oldest first."""
        due = []
        for message in list(self.waiting.values()):
            delivery = message.pending_webhook()
            if delivery is None:
                del self.waiting[message.message_id]
                continue
            due_at = message.webhook_due_at()
            if delivery["id"] not in self.in_flight and due_at is not None and due_at <= now:
                due.append(message)
        return due

    def claim(self, message: Message, now: datetime) -> None:
        """Lease the message's webhook delivery to a new attempt, to start after commit."""
        delivery = message.pending_webhook()
        assert delivery is not None
        claim_token = new_id("dcl")
        message.claim_webhook(claim_token, self.lease_seconds, now)
        self.in_flight.add(delivery["id"])
        body = {"delivery": {"id": delivery["id"], "mode": "webhook"},
                "message": message_envelope(message)}  # fmt: skip
        self._claimed.append(
            WebhookJob(
                self.agent_id,
                message.message_id,
                delivery["id"],
                claim_token,
                json.dumps(body, separators=(",", ":")).encode(),
            )
        )

    def take_claimed(self) -> list[WebhookJob]:
        """The attempts claimed since the last commit (call once it committed)."""
        claimed, self._claimed = self._claimed, []
        return claimed

    def end(self, message: Message, reason: str, now: datetime) -> bool:
        """End a delivery that waits for a retry and has nothing left to do (the message
        was ACKed or expired); one in flight is left to finish and be recorded."""
        delivery = message.pending_webhook()
        if delivery is None or delivery["id"] in self.in_flight:
            return False
        message.end_webhook(reason, now)
        self.waiting.pop(message.message_id, None)
        return True

    def finished(self, message: Message) -> None:
        """An attempt of ``message`` was recorded."""
        for delivery in message.deliveries:
            self.in_flight.discard(delivery["id"])
        if message.pending_webhook() is None:
            self.waiting.pop(message.message_id, None)

    def next_due(self, now: datetime) -> datetime | None:
        """When the next delivery falls due (none while the share is taken: a finishing
        attempt wakes the mailbox). One held by a polling lease is due at its end."""
        if self.full:
            return None
        earliest: datetime | None = None
        for message in self.waiting.values():
            delivery = message.pending_webhook()
            due_at = message.webhook_due_at()
            if delivery is None or due_at is None or delivery["id"] in self.in_flight:
                continue
            if message.message_id in self.held:
                continue
            lease = message.active_lease(now)
            if lease is not None and lease["leased_until"] is not None:
                due_at = max(due_at, lease["leased_until"])
            if earliest is None or due_at < earliest:
                earliest = due_at
        return earliest

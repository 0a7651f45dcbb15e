"""WebhookQueue: one mailbox's webhook deliveries still to try, and its attempts in flight.

Part of the mailbox's live state (the mailbox stays the only writer of its messages):
the messages whose webhook delivery waits for an attempt, oldest first; the deliveries
the dispatcher is attempting now, at most ``share`` of them, so that one slow receiver
cannot hold every slot of the dispatcher; and the attempts claimed in the batch being
committed, which go to the dispatcher only once that commit holds.

Which deliveries fall due when is a heap of due times, so that a batch looks only at
what is due, not at every delivery waiting: a failing endpoint can leave thousands
waiting for their retry, and a scan of them all on the Trio thread every batch cost
far more than the heap (docs/performance.md, "What paid"). The heap is lazy: each
message has one live entry, and an entry that no longer matches is dropped when it
surfaces.
"""

from __future__ import annotations

import heapq
import itertools
from datetime import datetime

from atp.actors._pushes import WebhookJob
from atp.domain import Message, new_id
from atp.observe import REQUEST_ID
from atp.wire import push_body

__all__ = ["WebhookQueue"]


class WebhookQueue:
    """Webhook work of one recipient's messages."""

    def __init__(self, agent_id: str, *, share: int, lease_seconds: float) -> None:
        self.agent_id = agent_id
        self.share = share
        self.lease_seconds = lease_seconds
        self._waiting: dict[str, Message] = {}  # their order is ``_rank``
        self._in_flight: set[str] = set()  # message ids
        # Due, but an earlier turn of their session goes first (§6.4). No timer wakes
        # them: only a command to this mailbox can move that turn on, and every batch
        # looks at due deliveries again.
        self._held: set[str] = set()  # message ids
        self._claimed: list[WebhookJob] = []
        self._heap: list[tuple[datetime, int, str]] = []  # (due at, tie-break, message id)
        self._entry: dict[str, datetime] = {}  # message id -> due time of its live entry
        self._rank: dict[str, int] = {}  # message id -> order of tracking (oldest first)
        self._counter = itertools.count()
        # message id -> the request that made its delivery due, for the attempts' logs
        self._origin: dict[str, str] = {}

    def clear(self) -> None:
        self._waiting.clear()
        self._in_flight.clear()
        self._held.clear()
        self._claimed.clear()
        self._heap.clear()
        self._entry.clear()
        self._rank.clear()
        self._origin.clear()

    def track(self, message: Message) -> None:
        """Follow ``message`` if it has a webhook delivery to try."""
        if message.pending_webhook() is not None:
            # Changed by the command being handled (sent, redriven), not just paged in.
            if message.pending_events and (request_id := REQUEST_ID.get()) is not None:
                self._origin[message.message_id] = request_id
            self._waiting[message.message_id] = message
            self._rank.setdefault(message.message_id, next(self._counter))
            self._schedule(message.message_id, message.webhook_due_at())

    @property
    def full(self) -> bool:
        return len(self._in_flight) >= self.share

    def waiting(self, message_id: str) -> Message | None:
        """The message if its delivery waits here for an attempt (or is in one)."""
        return self._waiting.get(message_id)

    def hold(self, message_id: str) -> None:
        """Due, but an earlier turn of its session goes first: not timed until
        ``release_held`` (the next batch looks at it again)."""
        self._held.add(message_id)

    def release_held(self) -> None:
        self._held.clear()

    def due(self, now: datetime) -> list[Message]:
        """Messages whose webhook delivery may be claimed now, oldest first. They stay
        due until claimed or ended (a held or polled one is looked at again)."""
        due = []
        while self._heap and self._heap[0][0] <= now:
            message = self._pop()
            if message is None:
                continue
            delivery = message.pending_webhook()
            due_at = message.webhook_due_at()
            if delivery is None or due_at is None:
                self.forget(message.message_id)
            elif message.message_id in self._in_flight:
                continue  # ``finished`` schedules it again
            elif due_at > now:
                self._schedule(message.message_id, due_at)
            else:
                due.append(message)
        for message in due:
            self._schedule(message.message_id, message.webhook_due_at())
        return sorted(due, key=lambda m: self._rank[m.message_id])

    def claim(self, message: Message, now: datetime) -> None:
        """Lease the message's webhook delivery to a new attempt, to start after commit."""
        delivery = message.pending_webhook()
        assert delivery is not None
        claim_token = new_id("dcl")
        message.claim_webhook(claim_token, self.lease_seconds, now)
        self._in_flight.add(message.message_id)
        self._claimed.append(
            WebhookJob(
                self.agent_id,
                message.message_id,
                delivery.id,
                claim_token,
                push_body(message, delivery.id),
                self._origin.get(message.message_id),
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
        if delivery is None or message.message_id in self._in_flight:
            return False
        message.end_webhook(reason, now)
        self.forget(message.message_id)
        return True

    def finished(self, message: Message) -> None:
        """An attempt of ``message`` was recorded."""
        self._in_flight.discard(message.message_id)
        if message.pending_webhook() is None:
            self.forget(message.message_id)
        else:
            self._schedule(message.message_id, message.webhook_due_at())

    def due_time(self, message_id: str) -> datetime | None:
        """When a waiting message's delivery falls due; None while it is in flight."""
        return None if message_id in self._in_flight else self._entry.get(message_id)

    def next_due(self, now: datetime) -> datetime | None:
        """When the next delivery falls due (none while the share is taken: a finishing
        attempt wakes the mailbox). One held by a polling lease is due at its end; one
        held for its session's order (``hold``) is not timed at all."""
        if self.full:
            return None
        held = []
        earliest: datetime | None = None
        while self._heap:
            due_at, _, message_id = self._heap[0]
            message = self._waiting.get(message_id)
            delivery = None if message is None else message.pending_webhook()
            if self._entry.get(message_id) != due_at:
                heapq.heappop(self._heap)  # stale: a newer entry stands for the message
            elif message is None or delivery is None:
                heapq.heappop(self._heap)
                self.forget(message_id)  # nothing left to try
            elif message_id in self._in_flight:
                self._pop()  # ``finished`` schedules it again
            elif message_id in self._held:
                held.append(self._pop())
            elif (lease := message.active_lease(now)) is not None and (
                lease.leased_until is not None and lease.leased_until > due_at
            ):
                self._schedule(message_id, lease.leased_until)
            else:
                earliest = due_at
                break
        for message in held:
            if message is not None:
                self._schedule(message.message_id, message.webhook_due_at())
        return earliest

    def _schedule(self, message_id: str, due_at: datetime | None) -> None:
        """Make ``due_at`` the one live entry of this message (none if ``None``)."""
        if due_at is None or self._entry.get(message_id) == due_at:
            return
        self._entry[message_id] = due_at
        heapq.heappush(self._heap, (due_at, next(self._counter), message_id))

    def _pop(self) -> Message | None:
        """Take the heap's first entry; its message if the entry is live and waiting."""
        due_at, _, message_id = heapq.heappop(self._heap)
        if self._entry.get(message_id) != due_at:
            return None
        del self._entry[message_id]
        return self._waiting.get(message_id)

    def forget(self, message_id: str) -> None:
        """Stop following a message: it has nothing left to try, or it waits on disk."""
        self._waiting.pop(message_id, None)
        self._entry.pop(message_id, None)
        self._rank.pop(message_id, None)
        self._origin.pop(message_id, None)

"""MailboxWindow: which of one recipient's messages a mailbox holds in memory.

The window is the oldest open messages (queued or handed out, not ACKed), in inbox
order, at most ``settings.mailbox_window`` of them when a new one arrives. Newer ones
wait in the ledger and the inbox view (``beyond``) and page in, oldest first, when the
mailbox has used the window up. Beyond the window, webhook work must be tried on
time: a window's worth of it stays live (``overflow``), the earliest due, and the rest
waits on disk and pages in by due time (the deliveries view has each one's due time).
Closed messages stay a while for late ACKs (``recent``). So a recipient's backlog, and
a dead endpoint's retries, cost disk, not memory.

Every message has at most one live copy: a page-in takes the live copy of a message
wherever one exists, including one changed by the batch being handled, and only
messages the batch has not changed go back to disk.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable, Mapping
from datetime import datetime
from types import MappingProxyType

from eventsourcing.domain import Aggregate

from atp.actors._context import ActorContext
from atp.actors.mailbox._webhook_queue import WebhookQueue
from atp.domain import Message, aggregate_id
from atp.errors import NotFound

__all__ = ["MailboxWindow"]

_RECENT_CLOSED = 256  # closed messages kept for late ACKs (completed after accepted)


class MailboxWindow:
    """One recipient's live messages."""

    def __init__(self, agent_id: str, context: ActorContext, webhooks: WebhookQueue) -> None:
        self.agent_id = agent_id
        self.context = context
        self.webhooks = webhooks
        self._open: OrderedDict[str, Message] = OrderedDict()
        self._overflow: dict[str, Message] = {}  # open beyond the window, with webhook work
        self._on_disk_due: datetime | None = None  # earliest due webhook work not in memory
        self._beyond = False  # open messages wait beyond the window, not in memory
        self._recent: OrderedDict[str, Message] = OrderedDict()
        self._delivery_index: dict[str, str] = {}  # delivery id -> message id

    @property
    def open(self) -> Mapping[str, Message]:
        """The window: open messages by id, oldest first (claims hand them out in this
        order, and expiries, one TTL for all, fall due in it)."""
        return MappingProxyType(self._open)

    @property
    def overflow(self) -> Mapping[str, Message]:
        """Open messages beyond the window, live for their webhook work."""
        return MappingProxyType(self._overflow)

    @property
    def beyond(self) -> bool:
        """Whether open messages wait beyond the window, not in memory."""
        return self._beyond

    def leased(self, message: Message, delivery_id: str) -> None:
        """``message`` was handed out on a new delivery: ACKs of it find the message."""
        self._delivery_index[delivery_id] = message.message_id

    async def rehydrate(self) -> None:
        """The first window and the session turns with webhook work beyond it; other
        webhook work beyond it pages in when the mailbox next runs."""
        self._open.clear()
        self._overflow.clear()
        self._recent.clear()
        self._delivery_index.clear()
        self._beyond = True  # until a page-in has seen the end
        await self.page_in(())
        self._on_disk_due = None
        if self._beyond:
            ids = await self.context.queries.webhook_turn_ids(self.agent_id)
            missing = [aggregate_id(m) for m in ids if self.live(m) is None]
            for message in await self.context.ledger.load_all(Message, missing):
                if message.is_open:
                    self.hold(message)
            self._on_disk_due = self.context.now()

    def live(self, message_id: str) -> Message | None:
        """The message if it is in memory, open or recently closed."""
        return (
            self._open.get(message_id)
            or self._overflow.get(message_id)
            or self._recent.get(message_id)
        )

    def admit(self, message: Message) -> None:
        """A new open message joins the window, unless it is full or older messages wait
        beyond it: then it waits there too (live only for its webhook work)."""
        if self._beyond or len(self._open) >= self.context.settings.mailbox_window:
            self._beyond = True
            if message.pending_webhook() is not None:
                self.hold(message)
        else:
            self.keep(message)

    def keep(self, message: Message) -> None:
        """Live in the window, in send order as the inbox view has it; a message that
        opens again (a released dead letter) takes its place among the others. Claims
        hand messages out in this order, and expiries (one TTL for all) fall due in it."""
        self._recent.pop(message.message_id, None)
        self._overflow.pop(message.message_id, None)
        last = next(reversed(self._open.values()), None)
        self._open[message.message_id] = message
        if last is not None and message.created_at < last.created_at:
            ordered = sorted(self._open.values(), key=lambda m: m.created_at)
            self._open.clear()
            self._open.update((m.message_id, m) for m in ordered)
        self._index(message)

    def close_if_done(self, message: Message) -> None:
        """``close`` a message that is no longer open (ACKed, ended, pushed, parked)."""
        if not message.is_open:
            self.close(message)

    def after_attempt(self, message: Message) -> None:
        """Keep or drop ``message`` once a webhook attempt of it is recorded."""
        if not message.is_open:
            self.close(message)
        elif self.live(message.message_id) is None:
            self.hold(message)  # beyond the window: live again if there is room

    def close(self, message: Message) -> None:
        """A message leaves the open set but stays reachable for a while (late ACKs)."""
        self._open.pop(message.message_id, None)
        self._overflow.pop(message.message_id, None)
        self._recent[message.message_id] = message
        if len(self._recent) > _RECENT_CLOSED:
            _, evicted = self._recent.popitem(last=False)
            for delivery in evicted.deliveries:
                self._delivery_index.pop(delivery.id, None)

    async def message_of(
        self, delivery_id: str, load: Callable[[str, str], Awaitable[Message]]
    ) -> Message:
        """The message a delivery of this recipient belongs to, live from now on
        (``load`` is the mailbox's: it refuses another recipient's message).

        Raises:
            NotFound: not a delivery addressed to this agent.
        """
        message_id = self._delivery_index.get(delivery_id)
        live = self.live(message_id) if message_id is not None else None
        if live is not None:
            return live
        await self.context.views.wait_current()
        found = await self.context.queries.delivery_message(delivery_id)
        if found is None:
            raise NotFound("delivery")
        message = await load(found[0], "delivery")
        if message.is_open:
            self.keep(message)
        else:
            self.close(message)
        self._delivery_index[delivery_id] = message.message_id
        return message

    def expire_due(self, now: datetime) -> list[Message]:
        """Expire the due messages in the window and end their webhook work; return them
        (closed now) for the mailbox to stage."""
        expired = []
        for message in self._open.values():
            if message.expires_at > now:
                break  # oldest first with one TTL: none after it is due either
            if message.expire_if_due(now):
                expired.append(message)
        for message in expired:
            self.webhooks.end(message, "message_expired", now)
            self.close(message)
        return expired

    async def expire_all_due(self, now: datetime, staged: Iterable[Aggregate]) -> list[Message]:
        """``expire_due``, paging in while the window has none left queued (those beyond
        it are younger, so none of them is due before the window's)."""
        expired = self.expire_due(now)
        while self._beyond and not self.has_queued() and await self.page_in([*staged, *expired]):
            expired += self.expire_due(now)
        return expired

    def should_page_in(self) -> bool:
        """Whether open messages wait beyond the window, to be paged in now. Not while the
        views are stuck: they lack what came after the stuck event, so paging in would find
        nothing, over and over; a claim or the sweep pages in once they have moved on."""
        return self._beyond and self.context.views.stuck is None

    def has_queued(self) -> bool:
        """Whether a message in the window still waits to be handed out."""
        return any(m.carrier_status == "queued" for m in self._open.values())

    async def page_in(self, staged: Iterable[Aggregate]) -> int:
        """Move the oldest open messages that wait beyond the window into it, up to a
        window's worth; return how many came in.

        The inbox view, once caught up, lists every committed open message in order.
        Messages of the batch being handled (``staged``) are not in it yet: they come
        in last, once the view has no older ones left.
        """
        context = self.context
        window = context.settings.mailbox_window
        changed = {a.message_id: a for a in staged if isinstance(a, Message)}
        await context.views.wait_current()
        limit = len(self._open) + len(self._overflow) + window
        ids = await context.queries.open_message_ids(self.agent_id, limit)
        # Views stuck on an event lack what came after it: more may wait beyond the
        # window than they show, so it is looked for again (once they have moved on).
        seen_end = len(ids) < limit and context.views.stuck is None
        waiting = [i for i in ids if i not in self._open][: None if seen_end else window]
        live = {i: m for i in waiting if (m := changed.get(i) or self.live(i)) is not None}
        stored = await context.ledger.load_all(
            Message, [aggregate_id(i) for i in waiting if i not in live]
        )
        found = {**{m.message_id: m for m in stored}, **live}
        before = len(self._open)
        for message_id in waiting:
            message = found.get(message_id)
            if message is not None and message.is_open:
                self.keep(message)
        if seen_end:
            for message in changed.values():
                if message.is_open and message.message_id not in self._open:
                    self.keep(message)
            self._beyond = False
        return len(self._open) - before

    async def turn_waits_beyond(self, message: Message) -> bool:
        """Whether an earlier turn of this message's session waits beyond the window, not
        in memory (where the mailbox's order check cannot see it)."""
        if message.session_id is None or message.message_id not in self._overflow:
            return False
        assert message.session_sequence is not None
        await self.context.views.wait_current()
        earlier = await self.context.queries.open_turns_before(
            self.agent_id, message.session_id, message.session_sequence
        )
        return any(self.live(i) is None for i in earlier)

    def next_deadline(self, now: datetime) -> datetime | None:
        """The next lease end, expiry or webhook attempt among the live messages, or the
        moment to page in.

        Messages are kept oldest first and share one TTL, so the first still-queued
        message is the next to expire; active leases are few (one per claim in flight).
        A webhook delivery held back by a polling lease is due when that lease ends.
        """
        deadlines: list[datetime] = []
        for message in self._open.values():
            lease = message.active_lease(now)
            if lease is not None and lease.leased_until is not None:
                deadlines.append(lease.leased_until)
            elif message.carrier_status == "queued":
                deadlines.append(message.expires_at)
                break
        else:
            if self.should_page_in():  # the next expiry is beyond the window
                deadlines.append(now)
        webhook_dues = (self.webhooks.next_due(now), self.disk_deadline())
        return min([*deadlines, *(due for due in webhook_dues if due is not None)], default=None)

    # -- webhook work beyond the window -------------------------------------------------

    def hold(self, message: Message) -> None:
        """Keep webhook work beyond the window live if there is room, else on disk.

        Session turns always stay live: a turn waits for the earlier turns of its
        session (§6.4), so an earlier one on disk could hold it, and the room it takes,
        for good."""
        if message.session_id is not None or len(self._overflow) < self._size:
            self._overflow[message.message_id] = message
            self._index(message)
        else:
            self.webhooks.forget(message.message_id)
            self._on_disk(message.webhook_due_at())

    def disk_deadline(self) -> datetime | None:
        """When webhook work on disk falls due, if it can come in then: there is room,
        or live work that falls due later can make way. Else a finishing attempt or a
        retry makes way first."""
        due = self._on_disk_due
        if due is None or len(self._overflow) < self._size:
            return due
        return due if self._way_made(self._movable(set()), due) else None

    @staticmethod
    def _way_made(movable: list[tuple[datetime, str]], due: datetime) -> bool:
        return any(later > due for later, _ in movable)

    async def page_in_webhook_work(self, now: datetime, staged: Iterable[Aggregate]) -> None:
        """Once ``disk_deadline`` has come, bring in the due webhook work on disk, earliest
        first, sending live work that falls due later (and that ``staged``, the batch,
        has not changed) back to disk to make room."""
        if self._on_disk_due is None or self._on_disk_due > now:
            return  # the common case, every batch: nothing on disk is due
        staged = list(staged)
        changed = _changed_ids(staged)
        live_work = self._movable(changed)  # what the batch changed stays
        if len(self._overflow) >= self._size and not self._way_made(live_work, self._on_disk_due):
            return
        context = self.context
        movable = [(due, message_id, False) for due, message_id in live_work]
        room = self._size - (len(self._overflow) - len(movable))
        await context.views.wait_current()
        limit = len(self._open) + len(self._overflow) + room + 1
        rows = await context.queries.webhook_work(self.agent_id, limit)
        # A message the batch changed is not read back: the view has it as it was.
        on_disk = [(due, m, True) for m, due in rows if self.live(m) is None and m not in changed]
        chosen = sorted([*movable, *(entry for entry in on_disk if entry[0] <= now)])[:room]
        taken = {message_id for _, message_id, _ in chosen}
        # What stays on disk or goes back to it: the due times left over, the rows past
        # the query's end, and what the batch sent straight to disk.
        left = [d for d, m, _ in [*movable, *on_disk] if m not in taken]
        if len(rows) == limit:
            left.append(rows[-1][1])  # those past it are due no earlier
        left += [
            due
            for a in staged
            if isinstance(a, Message)
            and self.live(a.message_id) is None
            and (due := a.webhook_due_at()) is not None
        ]
        for _, message_id, _ in movable:
            if message_id not in taken:
                gone = self._overflow.pop(message_id)
                self.webhooks.forget(message_id)
                for delivery in gone.deliveries:
                    self._delivery_index.pop(delivery.id, None)
        wanted = [aggregate_id(m) for _, m, disk in chosen if disk]
        for message in await context.ledger.load_all(Message, wanted):
            if message.is_open and message.pending_webhook() is not None:
                self._overflow[message.message_id] = message
                self._index(message)
        self._on_disk_due = min(left, default=None)

    @property
    def _size(self) -> int:
        return self.context.settings.mailbox_window

    def _movable(self, changed: set[str]) -> list[tuple[datetime, str]]:
        """(due, message id) of the live work beyond the window that may go back to disk:
        not a session turn, not in flight, not ``changed`` by the batch."""
        movable = []
        for message_id, message in self._overflow.items():
            due = self.webhooks.due_time(message_id)
            if due is not None and message.session_id is None and message_id not in changed:
                movable.append((due, message_id))
        return movable

    def _on_disk(self, due: datetime | None) -> None:
        if due is not None and (self._on_disk_due is None or due < self._on_disk_due):
            self._on_disk_due = due

    def _index(self, message: Message) -> None:
        for delivery in message.deliveries:
            self._delivery_index[delivery.id] = message.message_id
        self.webhooks.track(message)


def _changed_ids(staged: Iterable[Aggregate]) -> set[str]:
    """The ids of the messages among the batch's changed aggregates."""
    return {a.message_id for a in staged if isinstance(a, Message)}

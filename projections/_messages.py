"""MessagesView: message-status documents, the delivery index and the inbox.

The status document is rendered from the Message aggregate by the same renderer the
actors answer with, so a status read equals what the write returned. To get the
aggregate at each event the view keeps the messages still in play in memory and folds
the event in; the messages it does not hold at the right version are loaded before
the page (``prepare``), at exactly the version of their first event in it. Rows are
written once per page, for each message as it stands at the page's end (``flush``).

Loading a message back costs far more than folding onto it (and more as the ledger
grows), so the cache keeps what is likely to change again: a message leaves it when
it ends (its terminal ACK, expiry), and the oldest leave when it holds more messages,
or more bytes of status documents, than its bounds.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from typing import Any
from uuid import UUID

import attrs
from eventsourcing.domain import DomainEventProtocol

from atp.domain import Message
from atp.ledger import Notification
from atp.projections._view import View, Writer
from atp.wire import context_id, iso, message_status, status_time

__all__ = ["DeadLetterStatistics", "MessageLoader", "MessagesView"]

# Loads each (ledger id, version) asked for: the message as it stood at that version.
MessageLoader = Callable[[Sequence[tuple[UUID, int]]], Awaitable[dict[UUID, Message]]]
# The cache's bounds: a message in memory is about 2 kB beside its document's bytes.
# These hold every message in flight at 32 pairs of batches of 100 (ops/bench).
_CACHE_MESSAGES = 16_384
_CACHE_BYTES = 32 * 1024 * 1024
_COMPACT = json.JSONEncoder(separators=(",", ":"))  # json.dumps with options builds one per call
_MAX_PARAMS = 999  # SQLite's default limit on a statement's parameters (before 3.32)
# Events that may park a message as a dead letter, or take it out of there.
_DEAD_LETTER_EVENTS: dict[type, str] = {
    Message.WebhookAttemptRecorded: "parked",
    Message.WebhookDeliveryEnded: "parked",
    Message.DeadLetterRedriven: "redriven",
    Message.DeadLetterReleased: "released",
}


@attrs.frozen
class DeadLetterStatistics:
    """Messages parked as dead letters, redriven and released, as projected since start."""

    parked: int
    redriven: int
    released: int


class MessagesView(View):
    """Message statuses (with deliveries), delivery → message (with when a pending webhook
    delivery is due), open messages per recipient, and dead letters."""

    name = "messages"
    tables = ("atp_messages", "atp_deliveries", "atp_inbox")
    aggregates = (Message,)

    def __init__(self, load: MessageLoader) -> None:
        self._load = load
        self._cache: OrderedDict[UUID, Message] = OrderedDict()
        self._cache_sizes: dict[UUID, int] = {}  # a cached message's document, in bytes
        self._cache_bytes = 0
        self._loaded: dict[UUID, Message] = {}  # by ``prepare``, for this page
        self._page: dict[str, Message] = {}  # the page's messages, at their latest event
        self._sent_at: dict[str, int] = {}  # position of those sent in this page
        self._dead_letters = {"parked": 0, "redriven": 0, "released": 0}
        self._page_dead_letters: list[str] = []  # counted once the page is written

    def reset(self) -> None:
        self._cache.clear()
        self._cache_sizes.clear()
        self._cache_bytes = 0
        self._page, self._sent_at, self._loaded = {}, {}, {}
        self._page_dead_letters = []

    def written(self) -> None:
        for kind in self._page_dead_letters:
            self._dead_letters[kind] += 1
        self._page_dead_letters = []

    def statistics(self) -> DeadLetterStatistics:
        """Dead letters parked, redriven and released (for /metrics)."""
        return DeadLetterStatistics(**self._dead_letters)

    async def prepare(self, batch: Sequence[Notification]) -> None:
        """Load every message of ``batch`` that the cache will not hold at the version
        before its first event here (the cache is only trimmed in ``flush``)."""
        held: dict[UUID, int] = {}  # the version each message will be at, as the page goes
        wanted: dict[UUID, int] = {}
        for _, event in batch:
            if not isinstance(event, Message.Sent | Message.Event):
                continue
            message_id, version = event.originator_id, event.originator_version
            if message_id not in held and not isinstance(event, Message.Sent):
                cached = self._cache.get(message_id)
                if cached is None or cached.version != version - 1:
                    wanted[message_id] = version
            held[message_id] = version
        if wanted:
            self._loaded = await self._load(list(wanted.items()))

    def apply(self, out: Writer, position: int, event: DomainEventProtocol[Any]) -> None:
        if not isinstance(event, Message.Sent | Message.Event):
            return
        message = self._fold(event)
        if isinstance(event, Message.Sent):
            self._sent_at[message.message_id] = position
        elif (kind := _DEAD_LETTER_EVENTS.get(type(event))) is not None:
            # An attempt or an end parks the message only if it was still undelivered.
            at = getattr(event, "at", None)
            if kind != "parked" or (message.dead_lettered and message.dead_lettered_at == at):
                self._page_dead_letters.append(kind)
        self._page[message.message_id] = message

    def flush(self, out: Writer) -> None:
        """Write the page's messages as they stand at its end, a few statements for all.

        Only the last state of a row counts, so one multi-row statement per table
        replaces two or three per event: each statement is a trip through the driver
        that lets the server's main thread lose the interpreter lock (ops/bench).
        """
        messages, sent_at = list(self._page.values()), self._sent_at
        self._page, self._sent_at, self._loaded = {}, {}, {}
        if not messages:
            return
        documents = [_COMPACT.encode(message_status(m)) for m in messages]
        self._keep(messages, documents)
        # ``position`` is the Sent event's: 0 stands in for rows that exist (not updated).
        _insert(
            out,
            "INSERT INTO atp_messages (id, position, sender_agent_id, sender_account_id,"
            " recipient_agent_id, recipient_account_id, trust, carrier_status, ack_status,"
            " created_at, document, session_id, session_sequence, dead_lettered_at,"
            " context_id, status_at) VALUES",
            " ON CONFLICT (id) DO UPDATE SET carrier_status = excluded.carrier_status,"
            " ack_status = excluded.ack_status, document = excluded.document,"
            " dead_lettered_at = excluded.dead_lettered_at, status_at = excluded.status_at",
            [
                (
                    m.message_id,
                    sent_at.get(m.message_id, 0),
                    m.sender_agent_id,
                    m.sender_account_id,
                    m.recipient_agent_id,
                    m.recipient_account_id,
                    m.trust,
                    m.carrier_status,
                    m.ack_status,
                    iso(m.created_at),
                    document,
                    m.session_id,
                    m.session_sequence,
                    iso(m.dead_lettered_at),
                    context_id(m),
                    iso(status_time(m)),
                )
                for m, document in zip(messages, documents, strict=True)
            ],
        )
        _insert(
            out,
            "INSERT INTO atp_deliveries (id, message_id, recipient_agent_id, mode, status,"
            " due_at) VALUES",
            " ON CONFLICT (id) DO UPDATE SET status = excluded.status, due_at = excluded.due_at",
            [
                (
                    d.id,
                    m.message_id,
                    m.recipient_agent_id,
                    d.mode,
                    d.status,
                    iso(m.webhook_due_at()) if d is m.pending_webhook() else None,
                )
                for m in messages
                for d in m.deliveries
            ],
        )
        opened = [m for m in messages if m.is_open]
        # A message sent in this page enters the inbox at its own position; one that
        # opens again (a released dead letter) takes the position it was sent at.
        _insert(
            out,
            "INSERT INTO atp_inbox (message_id, recipient_agent_id, position, expires_at) VALUES",
            " ON CONFLICT (message_id) DO NOTHING",
            [
                (m.message_id, m.recipient_agent_id, sent_at[m.message_id], iso(m.expires_at))
                for m in opened
                if m.message_id in sent_at
            ],
        )
        for m in opened:
            if m.message_id not in sent_at:
                out.execute(
                    "INSERT INTO atp_inbox (message_id, recipient_agent_id, position, expires_at)"
                    " SELECT id, recipient_agent_id, position, ? FROM atp_messages WHERE id = ?"
                    " ON CONFLICT (message_id) DO NOTHING",
                    (iso(m.expires_at), m.message_id),
                )
        closed = [m.message_id for m in messages if not m.is_open]
        for start in range(0, len(closed), _MAX_PARAMS):
            chunk = closed[start : start + _MAX_PARAMS]
            marks = ", ".join("?" * len(chunk))
            out.execute(f"DELETE FROM atp_inbox WHERE message_id IN ({marks})", chunk)

    def _keep(self, messages: list[Message], documents: list[str]) -> None:
        """Size the cache after a page: ended messages leave, then the oldest beyond
        the bounds."""
        cache, sizes = self._cache, self._cache_sizes
        for message, document in zip(messages, documents, strict=True):
            self._cache_bytes -= sizes.pop(message.id, 0)
            if message.terminal_at is not None:
                del cache[message.id]
            else:
                sizes[message.id] = len(document)
                self._cache_bytes += len(document)
        while len(cache) > _CACHE_MESSAGES or self._cache_bytes > _CACHE_BYTES:
            oldest, _ = cache.popitem(last=False)
            self._cache_bytes -= sizes.pop(oldest, 0)

    def _fold(self, event: DomainEventProtocol[Any]) -> Message:
        """The message as it stands right after ``event``."""
        cached = self._cache.pop(event.originator_id, None)
        if isinstance(event, Message.Sent):
            message = event.mutate(None)
        elif cached is not None and cached.version == event.originator_version - 1:
            message = event.mutate(cached)  # type: ignore[attr-defined]
        else:  # loaded by ``prepare`` at this very version
            message = self._loaded.pop(event.originator_id)
            assert message.version == event.originator_version
        assert isinstance(message, Message)
        self._cache[event.originator_id] = message
        return message


def _insert(out: Writer, head: str, tail: str, rows: list[tuple[Any, ...]]) -> None:
    """``head`` + ``VALUES`` for ``rows`` + ``tail``, as few statements as the limit allows."""
    if not rows:
        return
    width = len(rows[0])
    group = "(" + ", ".join("?" * width) + ")"
    per_statement = _MAX_PARAMS // width
    for start in range(0, len(rows), per_statement):
        chunk = rows[start : start + per_statement]
        values = ", ".join([group] * len(chunk))
        out.execute(f"{head} {values}{tail}", [value for row in chunk for value in row])

"""The audit follower: appends every committed event's record and leaf to the audit log.

It is a :class:`~atp.projections.View` with its own projection runner (tracking key
``audit``), so it inherits the runner's promises: each page of events and its tracking
position commit in one transaction, exactly once; it waits for the store and names an
event it cannot record; the log can be rebuilt from zero. It differs from the views in
what it keeps between events, all of it reloaded from the store when a page fails: the
tree's right edge (to append leaves), the directory of aggregates (to name them), and
the size of the newest checkpoint (to sign one at least every so many leaves, in the
page that reaches it). A page's rows are written with a few multi-row statements at its
flush.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any
from uuid import UUID

import attrs
from eventsourcing.domain import DomainEventProtocol
from eventsourcing.utils import get_topic

from atp.audit._merkle import CompactRange
from atp.audit._note import Checkpoint, NoteSigner
from atp.audit._records import Directory, Entry, first_entry, make_record
from atp.audit._store import TABLES, AuditStore
from atp.domain import (
    Account,
    Agent,
    AgentName,
    AmtpEnvelope,
    AmtpRelay,
    AmtpSchema,
    AmtpWebhook,
    IdempotencyRecord,
    Message,
    Replay,
    Session,
    TaskReceipts,
    Workflow,
    aggregate_id,
)
from atp.ledger import Bridge, Notification
from atp.projections import View, Writer

__all__ = ["AuditView", "TreeHead"]

# Each aggregate's first event and its topic, from the ledger.
_FirstEvents = Callable[[list[UUID]], Awaitable[dict[UUID, tuple[str, Any]]]]
# Directory entries kept in memory; older ones are read back from the store when a
# late event of their aggregate comes (an ACK days after its send).
_DIRECTORY_CACHE = 100_000


@attrs.frozen
class TreeHead:
    """The committed tree: what the latest page left."""

    size: int
    root: bytes
    checkpointed: int  # the newest checkpoint's tree size


class AuditView(View):
    """Folds every event into its audit record, its leaf and the tree's new nodes."""

    name = "audit"
    tables = TABLES
    aggregates = (  # all of them
        Account,
        Agent,
        AgentName,
        AmtpEnvelope,
        AmtpRelay,
        AmtpSchema,
        AmtpWebhook,
        IdempotencyRecord,
        Message,
        Replay,
        Session,
        TaskReceipts,
        Workflow,
    )

    def __init__(
        self,
        store: AuditStore,
        bridge: Bridge,
        signer: NoteSigner,
        every_leaves: int,
        first_events: _FirstEvents,
        on_written: Callable[[TreeHead], None] = lambda head: None,
    ) -> None:
        self._store = store
        self._first_events = first_events
        self._bridge = bridge
        self._signer = signer
        self._every = every_leaves
        self._on_written = on_written
        self._directory = Directory()
        self._loaded = False  # False: read the tree's head from the store before a page
        self._tree = CompactRange()
        self._checkpointed = 0
        self._topics: dict[type, str] = {}
        self._rows: list[tuple[Any, ...]] = []  # the page's records, written at its flush
        self._nodes: list[tuple[int, int, bytes]] = []

    async def prepare(self, batch: Sequence[Notification]) -> None:
        if not self._loaded:
            head = await self._bridge.read(self._store.head)
            self._loaded = True
            self._tree = head.tree
            self._checkpointed = head.checkpointed
            self._directory = Directory()
        known = self._directory.entries
        created = {e.originator_id for _, e in batch if e.originator_version == 1}
        later = [e.originator_id for _, e in batch if e.originator_version != 1]
        await self._recall(later, created)
        # Then a session's answer needs its opening message's entry, which only the
        # session's entry (recalled just now) names.
        await self._recall(_session_openings(batch, known), created)

    async def _recall(self, wanted: list[UUID], created: set[UUID]) -> None:
        known = self._directory.entries
        missing = [i for i in dict.fromkeys(wanted) if i not in known and i not in created]
        if missing:
            known.update(await self._forgotten(missing))

    async def _forgotten(self, aggregate_ids: list[UUID]) -> dict[UUID, Entry]:
        """Entries no longer in memory: kept in the store (an ACKed session opening), or
        made again from the aggregate's first event in the ledger."""
        found = await self._bridge.read(self._store.entries, aggregate_ids)
        rest = [i for i in aggregate_ids if i not in found]
        if rest:
            for aggregate_id, (topic, first) in (await self._first_events(rest)).items():
                found[aggregate_id] = first_entry(topic, first)
        return found

    def apply(self, out: Writer, position: int, event: DomainEventProtocol[Any]) -> None:
        kind = type(event)
        topic = self._topics.get(kind)
        if topic is None:
            topic = self._topics[kind] = get_topic(kind)
        record = make_record(self._tree.size, topic, event, self._directory)
        self._rows.append(self._store.record_row(position, record))
        self._nodes.extend(self._tree.append(record.leaf_hash))
        if self._tree.size - self._checkpointed >= self._every:
            self._sign(out)

    def flush(self, out: Writer) -> None:
        self._store.add_rows(out, self._rows, self._nodes)
        self._rows, self._nodes = [], []
        self._store.put_entries(out, self._directory.take_changed())

    def _sign(self, out: Writer) -> None:
        size = self._tree.size
        note = self._signer.sign(Checkpoint(self._signer.name, size, self._tree.root()).body())
        self._store.add_checkpoint(out, size, note)
        self._checkpointed = size

    def written(self) -> None:
        entries = self._directory.entries
        while len(entries) > _DIRECTORY_CACHE:
            del entries[next(iter(entries))]
        self._on_written(self.head())

    def head(self) -> TreeHead:
        """The tree as the follower has it (committed, between pages)."""
        return TreeHead(self._tree.size, self._tree.root(), self._checkpointed)

    def reset(self) -> None:
        self._rows, self._nodes = [], []
        self._loaded = False
        self._tree = CompactRange()
        self._checkpointed = 0
        self._directory = Directory()

    def checkpointed(self, size: int) -> None:
        """A checkpoint of ``size`` leaves was stored outside a page (the timer's)."""
        self._checkpointed = max(self._checkpointed, size)


def _session_openings(batch: Sequence[Notification], known: dict[UUID, Entry]) -> list[UUID]:
    """The opening messages of the sessions a page answers: a session's answer names
    its actor from whether the opening was ACKed."""
    wanted: list[UUID] = []
    for _, e in batch:
        if isinstance(e, Session.Accepted | Session.Rejected | Session.Failed):
            entry = known.get(e.originator_id)
            if entry is not None and entry.opening is not None:
                wanted.append(aggregate_id(entry.opening))
    return wanted

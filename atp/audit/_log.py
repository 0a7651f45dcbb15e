"""The audit log as the carrier runs and serves it: follower, checkpoints, proofs.

Two tasks: the follower's projection runner (records, leaves and nodes, a checkpoint
in the page that reaches ``every_leaves`` more leaves) and the checkpoint timer (a
checkpoint of the committed tree once ``interval`` has passed since the last one,
while the tree grows). A checkpoint is signed only over a committed tree: the
follower's page and its checkpoint commit together; the timer signs the head the last
committed page left.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar
from uuid import UUID

import attrs
import trio

from atp.audit._follower import AuditView, TreeHead
from atp.audit._merkle import (
    consistency_proof,
    inclusion_proof,
    nodes_for_consistency,
    nodes_for_inclusion,
)
from atp.audit._note import Checkpoint, NoteSigner
from atp.audit._store import (
    TRACKING_KEY,
    AuditStore,
    EventFilter,
    StoredCheckpoint,
    StoredRecord,
    Viewer,
)
from atp.errors import InvalidRequest, NotFound, StoreUnavailable
from atp.ledger import Bridge, Ledger
from atp.projections import ProjectionRunner, ViewStore

__all__ = ["AuditLog", "AuditStatistics", "Proof"]

log = logging.getLogger(__name__)
T = TypeVar("T")
# Commits gathered into one page of the log: fifty times the views' pause, as nobody
# waits for the log but its readers (who end the pause at once), and fewer, fuller
# pages cost the server less per record (docs/performance.md, "The audit log").
_GATHER_SECONDS = 0.5


@attrs.frozen
class Proof:
    """An RFC 9162 proof: the hashes a verifier folds, and the leaf hash it proves."""

    hashes: list[bytes]
    leaf_hash: bytes | None = None


@attrs.frozen
class AuditStatistics:
    size: int  # leaves committed
    checkpointed: int  # the newest checkpoint's tree size
    position: int  # the ledger notification the log has reached
    head: int  # the ledger's last committed notification


class AuditLog:
    """The carrier's audit log. Build it in a worker thread (it reads its position)."""

    def __init__(
        self,
        ledger: Ledger,
        store: ViewStore,
        bridge: Bridge,
        signer: NoteSigner,
        *,
        interval: float,
        every_leaves: int,
    ) -> None:
        self.signer = signer
        self.store = AuditStore(store)
        self._bridge = bridge
        self._interval = interval

        def first_events(ids: list[UUID]) -> Awaitable[dict[UUID, tuple[str, Any]]]:
            return bridge.read(ledger.first_events_sync, ids)

        self.view = AuditView(self.store, bridge, signer, every_leaves, first_events, self._written)
        self.runner = ProjectionRunner(
            ledger, store, [self.view], tracking=TRACKING_KEY, gather=_GATHER_SECONDS
        )
        self._head: TreeHead | None = None
        self._grown = trio.Event()
        self._last_signed = float("-inf")  # built in a worker thread: no trio clock here

    def _written(self, head: TreeHead) -> None:
        if self._head is None or head.checkpointed > self._head.checkpointed:
            self._last_signed = trio.current_time()
        self._head = head
        self._grown.set()
        self._grown = trio.Event()

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Follow the ledger and sign checkpoints until cancelled."""
        async with trio.open_nursery() as nursery:
            await nursery.start(self.runner.run)
            nursery.start_soon(self._sign_on_time)
            task_status.started()

    async def _sign_on_time(self) -> None:
        if self._head is None:
            await self._first_head()
        while True:
            head = self._head
            assert head is not None
            if head.size <= head.checkpointed:
                await self._grown.wait()
                continue
            wait = self._last_signed + self._interval - trio.current_time()
            if wait > 0:
                await trio.sleep(wait)
                continue
            await self._sign(head)

    async def _first_head(self) -> None:
        """The stored head, when no page was written since start; a log that never
        signed anything signs it now (the empty tree, at first start), so that there
        always is a checkpoint to fetch."""
        while True:
            try:
                stored = await self._bridge.read(self.store.head)
                signed = await self._bridge.read(self.store.checkpoint)
                break
            except StoreUnavailable:  # the runner waits for it too
                await trio.sleep(1)
        if self._head is None:
            self._head = TreeHead(stored.size, stored.tree.root(), stored.checkpointed)
        if signed is None:
            await self._sign(self._head)

    async def _sign(self, head: TreeHead) -> None:
        note = self.signer.sign(Checkpoint(self.signer.name, head.size, head.root).body())
        try:
            await self._bridge.run(self.store.save_checkpoint, head.size, note)
        except Exception as exc:
            log.warning(
                "could not store the checkpoint of %d leaves (%s): trying again",
                head.size, type(exc).__name__,
            )  # fmt: skip
            await trio.sleep(1)
            return
        self._last_signed = trio.current_time()
        self.view.checkpointed(head.size)
        now = self._head or head  # a page may have been written meanwhile
        self._head = attrs.evolve(now, checkpointed=max(now.checkpointed, head.size))

    # -- reading --------------------------------------------------------------------

    async def read(self, call: Callable[..., T], *args: Any) -> T:
        """Run one of :attr:`store`'s reads in a worker thread."""
        return await self._bridge.read(call, *args)

    async def committed_size(self) -> int:
        """Leaves committed and provable (the views need not have caught up)."""
        return await self._bridge.read(self.store.size)

    async def checkpoint(self, size: int | None = None) -> StoredCheckpoint:
        """The newest checkpoint, or the one of tree ``size``.

        Raises:
            NotFound: no checkpoint of that size.
        """
        found = await self._bridge.read(self.store.checkpoint, size)
        if found is None:
            raise NotFound("no checkpoint" + ("" if size is None else f" of size {size}"))
        return found

    async def inclusion(self, index: int, size: int) -> Proof:
        """The proof that leaf ``index`` is in the tree of ``size`` leaves.

        Raises:
            InvalidRequest: ``index`` is not below ``size``.
            NotFound: the log has not reached ``size`` leaves.
        """
        if not 0 <= index < size:
            raise InvalidRequest(f"index {index} is not below size {size}")
        await self._check_size(size)
        nodes = await self._bridge.read(self.store.nodes, nodes_for_inclusion(index, size))
        return Proof(inclusion_proof(index, size, nodes), nodes[0, index])

    async def consistency(self, old: int, new: int) -> Proof:
        """The proof that the tree of ``new`` leaves extends the tree of ``old``.

        Raises:
            InvalidRequest: not ``0 < old <= new``.
            NotFound: the log has not reached ``new`` leaves.
        """
        if not 0 < old <= new:
            raise InvalidRequest(f"no consistency proof from size {old} to size {new}")
        await self._check_size(new)
        nodes = await self._bridge.read(self.store.nodes, nodes_for_consistency(old, new))
        return Proof(consistency_proof(old, new, nodes))

    async def events(
        self, viewer: Viewer, after: int, limit: int, filters: EventFilter
    ) -> list[StoredRecord]:
        """The records ``viewer`` may see after index ``after`` (see :class:`AuditStore`)."""
        return await self._bridge.read(self.store.events, viewer, after, limit, filters)

    @property
    def size(self) -> int:
        """Leaves committed, as this process knows it."""
        return 0 if self._head is None else self._head.size

    async def wait_grown(self, size: int) -> None:
        """Wait until the log holds more than ``size`` records."""
        while self.size <= size:
            await self._grown.wait()

    async def _check_size(self, size: int) -> None:
        # The committed head, as the last page left it; from the store only before the
        # first page (a proof is then the store's first read, not its second).
        committed = self.size if self._head is not None else await self.committed_size()
        if size > committed:
            raise NotFound(f"the log has not reached {size} leaves")

    def statistics(self) -> AuditStatistics:
        head = self._head
        runner = self.runner.statistics()
        return AuditStatistics(
            head.size if head else 0,
            head.checkpointed if head else 0,
            runner.position,
            runner.head,
        )

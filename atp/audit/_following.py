"""The log's writer: the follower's projection runner and the checkpoint timer.

Two tasks: the runner folds each page of events into records, leaves and nodes, with
a checkpoint in the page that reaches ``every_leaves`` more leaves; the timer signs a
checkpoint of the committed tree once ``interval`` has passed since the last one,
while the tree grows. A checkpoint is signed only over a committed tree: the page and
its checkpoint commit together; the timer signs the head the last committed page left.
Each committed tree is reported to ``on_head``.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any
from uuid import UUID

import attrs
import trio

from atp.audit._follower import AuditView, TreeHead
from atp.audit._head import LogHead
from atp.audit._note import Checkpoint, NoteSigner
from atp.audit._store import TRACKING_KEY, AuditStore
from atp.errors import StoreUnavailable
from atp.ledger import Bridge, Ledger
from atp.projections import ProjectionRunner, ViewStore
from atp.settings import Settings

__all__ = ["AuditFollower", "open_follower"]

log = logging.getLogger(__name__)
# Commits gathered into one page of the log: fifty times the views' pause, as nobody
# waits for the log but its readers (who end the pause at once), and fewer, fuller
# pages cost less per record (docs/performance.md, "The audit log").
_GATHER_SECONDS = 0.5


async def open_follower(
    settings: Settings,
    ledger: Ledger,
    store: ViewStore,
    bridge: Bridge,
    signer: NoteSigner,
    on_head: Callable[[TreeHead], None],
) -> AuditFollower:
    """The log's writer as ``settings`` configure it (built in a worker thread)."""
    return await bridge.run(
        partial(
            AuditFollower,
            ledger,
            store,
            bridge,
            signer,
            on_head,
            interval=settings.audit_checkpoint_interval,
            every_leaves=settings.audit_checkpoint_leaves,
        )
    )


class AuditFollower:
    """Writes the audit log in this process. Build it in a worker thread (the runner
    reads its position)."""

    def __init__(
        self,
        ledger: Ledger,
        store: ViewStore,
        bridge: Bridge,
        signer: NoteSigner,
        on_head: Callable[[TreeHead], None],
        *,
        interval: float,
        every_leaves: int,
    ) -> None:
        self._store = AuditStore(store)
        self._bridge = bridge
        self._signer = signer
        self._on_head = on_head
        self._interval = interval

        def first_events(ids: list[UUID]) -> Awaitable[dict[UUID, tuple[str, Any]]]:
            return bridge.read(ledger.first_events_sync, ids)

        self.view = AuditView(
            self._store, bridge, signer, every_leaves, first_events, self._written
        )
        self.runner = ProjectionRunner(
            ledger, store, [self.view], tracking=TRACKING_KEY, gather=_GATHER_SECONDS
        )
        self._head = LogHead()  # the committed tree, as the runner and the timer leave it
        self._last_signed = float("-inf")  # built in a worker thread: no trio clock here

    @property
    def position(self) -> int:
        return self.runner.position

    @property
    def exits(self) -> int:
        return 0  # it runs in the server's process: it ends with it

    async def wait_current(self) -> None:
        await self.runner.wait_current()

    def _written(self, head: TreeHead) -> None:
        if self._head.tree is None or head.checkpointed > self._head.tree.checkpointed:
            self._last_signed = trio.current_time()
        self._advance(head)

    def _advance(self, head: TreeHead) -> None:
        self._head.advance(head)
        self._on_head(head)

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Follow the ledger and sign checkpoints until cancelled."""
        async with trio.open_nursery() as nursery:
            await nursery.start(self.runner.run)
            nursery.start_soon(self._sign_on_time)
            task_status.started()

    async def _sign_on_time(self) -> None:
        if self._head.tree is None:
            await self._first_head()
        while True:
            head = self._head.tree
            assert head is not None
            if head.size <= head.checkpointed:
                await self._head.wait_grown(head.size)
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
                stored = await self._bridge.read(self._store.head)
                signed = await self._bridge.read(self._store.checkpoint)
                break
            except StoreUnavailable:  # the runner waits for it too
                await trio.sleep(1)
        head = self._head.tree or TreeHead(stored.size, stored.tree.root(), stored.checkpointed)
        if signed is None:  # signed before the head is told: whoever hears of it can fetch one
            await self._sign(head)
        if self._head.tree is None:
            self._advance(head)

    async def _sign(self, head: TreeHead) -> None:
        note = self._signer.sign(Checkpoint(self._signer.name, head.size, head.root).body())
        try:
            await self._bridge.run(self._store.save_checkpoint, head.size, note)
        except Exception as exc:
            log.warning(
                "could not store the checkpoint of %d leaves (%s): trying again",
                head.size,
                type(exc).__name__,
            )
            await trio.sleep(1)
            return
        self._last_signed = trio.current_time()
        self.view.checkpointed(head.size)
        now = self._head.tree or head  # a page may have been written meanwhile
        self._advance(attrs.evolve(now, checkpointed=max(now.checkpointed, head.size)))

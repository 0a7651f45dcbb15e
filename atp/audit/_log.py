"""The audit log as the carrier serves it: checkpoints, proofs, events.

Its writer (``_following``: the follower and the checkpoint timer) runs in this
process or in a child of it (``_process``); either reports each committed tree to the
:class:`LogHead` this reads.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import attrs

from atp.audit._following import open_follower
from atp.audit._head import LogHead, LogWriter
from atp.audit._merkle import (
    consistency_proof,
    inclusion_proof,
    nodes_for_consistency,
    nodes_for_inclusion,
)
from atp.audit._note import NoteSigner
from atp.audit._process import FollowerProcess
from atp.audit._signing import stored_signer
from atp.audit._store import AuditStore, EventFilter, StoredCheckpoint, StoredRecord, Viewer
from atp.errors import InvalidRequest, NotFound
from atp.ledger import Bridge, Ledger
from atp.projections import ViewStore
from atp.settings import Settings

__all__ = ["AuditLog", "AuditStatistics", "Proof", "open_audit_log"]

T = TypeVar("T")


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
    follower_exits: int  # times the follower's process exited (and was started again)


async def open_audit_log(
    settings: Settings, ledger: Ledger, store: ViewStore, bridge: Bridge
) -> AuditLog:
    """The carrier's audit log, with its writer where ``settings.audit_follower`` says
    (run the writer: ``AuditLog.writer.run``).

    Raises:
        ValueError: the signing key or origin is not valid (``make_signer``).
    """
    audit_store = AuditStore(store)
    signer = await bridge.run(stored_signer, settings, audit_store)
    head = LogHead()
    writer: LogWriter
    if settings.audit_follower == "inline":
        writer = await open_follower(settings, ledger, store, bridge, signer, head.advance)
    else:
        writer = FollowerProcess(settings, ledger, head, await bridge.run(audit_store.position))
    return AuditLog(audit_store, bridge, signer, head, writer)


class AuditLog:
    """The carrier's audit log, as its readers see it."""

    def __init__(
        self,
        store: AuditStore,
        bridge: Bridge,
        signer: NoteSigner,
        head: LogHead,
        writer: LogWriter,
    ) -> None:
        self.store = store
        self.signer = signer
        self.writer = writer
        self._bridge = bridge
        self._head = head

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

    async def wait_current(self) -> None:
        """Read-your-writes: wait until the log holds everything committed so far."""
        await self.writer.wait_current()

    @property
    def size(self) -> int:
        """Leaves committed, as this process knows it."""
        return self._head.size

    async def wait_grown(self, size: int) -> None:
        """Wait until the log holds more than ``size`` records."""
        await self._head.wait_grown(size)

    async def _check_size(self, size: int) -> None:
        # The committed head, as the writer last reported it; from the store only before
        # its first report (a proof is then the store's first read, not its second).
        committed = self.size if self._head.tree is not None else await self.committed_size()
        if size > committed:
            raise NotFound(f"the log has not reached {size} leaves")

    def statistics(self) -> AuditStatistics:
        tree = self._head.tree
        return AuditStatistics(
            tree.size if tree else 0,
            tree.checkpointed if tree else 0,
            self.writer.position,
            self.writer.exits,
        )

"""StreamLeases: the leases streaming consumers hold in one recipient's mailbox.

A stream (``GET /api/inbox/stream``) names, each turn, the deliveries it was handed.
Those whose lease still holds, unACKed, count against its credit, and are renewed to
the stream's lease once a third of it has passed; the others (ACKed, or lapsed) gave
their credit back. When a stream goes away, the leases it holds are released, so the
messages can be claimed at once. Like the mailbox's other parts it changes messages
and returns them; the actor stages them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime

from atp.actors.mailbox._window import MailboxWindow
from atp.domain import Message
from atp.errors import NotFound

__all__ = ["StreamLeases"]

Load = Callable[[str, str], Awaitable[Message]]


class StreamLeases:
    """Renews and releases the polling leases streams hold."""

    def __init__(self, window: MailboxWindow) -> None:
        self._window = window

    async def renew(
        self, delivery_ids: Sequence[str], lease_seconds: int, load: Load, now: datetime
    ) -> tuple[list[str], list[Message]]:
        """The deliveries whose lease still holds, and the messages whose lease this
        renewed."""
        holding, renewed = [], []
        for delivery_id in delivery_ids:
            message = await self._holder(delivery_id, load, now)
            if message is None:
                continue
            holding.append(delivery_id)
            if message.renew_lease(delivery_id, lease_seconds, now):
                renewed.append(message)
        return holding, renewed

    async def release(
        self, delivery_ids: Sequence[str], load: Load, now: datetime
    ) -> list[Message]:
        """End the leases that still hold; the messages whose lease this ended."""
        released = []
        for delivery_id in delivery_ids:
            message = await self._holder(delivery_id, load, now)
            if message is not None:
                message.release_lease(delivery_id, now)
                released.append(message)
        return released

    async def _holder(self, delivery_id: str, load: Load, now: datetime) -> Message | None:
        """The message whose unACKed polling lease ``delivery_id`` still holds, if any."""
        try:
            message = await self._window.message_of(delivery_id, load)
        except NotFound:
            return None
        holds = message.ack_status is None and message.delivery(delivery_id).polling_lease(now)
        return message if holds else None

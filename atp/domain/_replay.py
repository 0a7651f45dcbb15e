"""Replay: one run that hands a recipient part of its delivery history again.

The recipient names what to replay (a time window, statuses, a sender, a session) and
where (its webhook endpoint or its inbox). The messages that match are fixed when the
replay starts, in the ``Started`` event, so the run is the same after any restart: its
replay actor takes them one by one, at most ``rate_per_second``, and records each
item's outcome here. Each message's own record of the replay (``Message.ReplayStarted``
and ``ReplayAttemptRecorded``) is written by the message's mailbox, the only writer
of messages; a message started once in a replay is never sent twice in it.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, Literal
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from atp.domain._ids import aggregate_id
from atp.errors import ReplayFinished

__all__ = ["ItemResult", "Replay", "ReplayState", "ReplayTarget"]

ReplayTarget = Literal["webhook", "inbox"]
# delivered: pushed and answered 2xx, or made claimable again (inbox); skipped: the
# message could not be replayed (gone, never handed out, not the recipient's).
ItemResult = Literal["delivered", "failed", "skipped"]


class ReplayState(StrEnum):
    RUNNING = "running"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class Replay(Aggregate):
    """A replay run and its progress."""

    class Started(Aggregate.Created):
        replay_id: str
        account_id: str
        agent_id: str  # the recipient whose history is replayed, who asked for it
        target: ReplayTarget
        filter: dict[str, Any]
        rate_per_second: float | None
        name: str | None
        message_ids: list[str]
        at: datetime

    class ItemRecorded(Aggregate.Event):
        position: int
        message_id: str
        result: ItemResult
        error: str | None
        at: datetime

    class Cancelled(Aggregate.Event):
        by: str  # the agent or account that cancelled
        at: datetime

    class Completed(Aggregate.Event):
        at: datetime

    @staticmethod
    def create_id(replay_id: str) -> UUID:
        return aggregate_id(replay_id)

    @event(Started)
    def __init__(
        self,
        replay_id: str,
        account_id: str,
        agent_id: str,
        target: ReplayTarget,
        filter: dict[str, Any],
        rate_per_second: float | None,
        name: str | None,
        message_ids: list[str],
        at: datetime,
    ) -> None:
        self.replay_id = replay_id
        self.account_id = account_id
        self.agent_id = agent_id
        self.target = target
        self.filter = filter
        self.rate_per_second = rate_per_second
        self.name = name
        self.message_ids = message_ids
        self.created_at = at
        self.state = ReplayState.RUNNING
        self.position = 0  # the next item to take
        self.counts: dict[ItemResult, int] = {"delivered": 0, "failed": 0, "skipped": 0}
        self.last_item_at: datetime | None = None
        self.finished_at: datetime | None = None

    @property
    def next_message_id(self) -> str | None:
        """The message the run takes next, while it runs."""
        if self.state is not ReplayState.RUNNING or self.position >= len(self.message_ids):
            return None
        return self.message_ids[self.position]

    def record_item(self, result: ItemResult, error: str | None, now: datetime) -> None:
        """Record the outcome of the item at ``position``; complete the run after the last."""
        message_id = self.next_message_id
        assert message_id is not None, "record_item() with nothing left to take"
        self._item_recorded(self.position, message_id, result, error, now)
        if self.position == len(self.message_ids):
            self._completed(now)

    @event(ItemRecorded)
    def _item_recorded(
        self, position: int, message_id: str, result: ItemResult, error: str | None, at: datetime
    ) -> None:
        self.position = position + 1
        self.counts[result] += 1
        self.last_item_at = at

    def complete_if_empty(self, now: datetime) -> None:
        """A replay that matched nothing is complete at once."""
        if not self.message_ids and self.state is ReplayState.RUNNING:
            self._completed(now)

    @event(Completed)
    def _completed(self, at: datetime) -> None:
        self.state = ReplayState.COMPLETED
        self.finished_at = at

    def cancel(self, by: str, now: datetime) -> None:
        """Stop the run before its next item; cancelling a cancelled replay changes nothing.

        Raises:
            ReplayFinished: the replay has already completed.
        """
        if self.state is ReplayState.CANCELLED:
            return
        if self.state is ReplayState.COMPLETED:
            raise ReplayFinished(f"replay {self.replay_id} has completed")
        self._cancelled(by, now)

    @event(Cancelled)
    def _cancelled(self, by: str, at: datetime) -> None:
        self.state = ReplayState.CANCELLED
        self.finished_at = at

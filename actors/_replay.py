"""ReplayActor: one replay run, its only writer; it takes the run's messages one by one.

Each item goes to the recipient's mailbox first (``StartReplayAttempt``), which records
the message's part in the replay, or answers what it recorded before: that is what
makes a replay send each message at most once, also across a crash between the
mailbox's commit and this actor's. A push is then made here, outside any store
transaction, through the webhook dispatcher, and its outcome goes back to the mailbox;
the item's result is recorded on the ``Replay``. Items are spaced by the run's rate;
the actor keeps running while its replay runs, and after a restart the sweep wakes it.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import assert_never

from atp.actors._actor import Actor
from atp.actors._context import ActorContext
from atp.actors._pushes import WebhookJob
from atp.actors.commands import Reply
from atp.actors.replay_commands import (
    CancelReplay,
    FinishReplayAttempt,
    ReplayCommand,
    RunReplay,
    StartReplay,
    StartReplayAttempt,
)
from atp.domain import ItemResult, Replay, aggregate_id
from atp.errors import AtpError, NotFound, StoreUnavailable
from atp.ledger import LedgerNotHeld
from atp.wire import replay_document

__all__ = ["ReplayActor"]

_PAUSE = timedelta(seconds=1)  # before an item is taken again after the store failed


class ReplayActor(Actor[ReplayCommand]):
    """One replay: its start, its items at its rate, its cancellation."""

    kind = "replay"

    def __init__(self, replay_id: str, context: ActorContext) -> None:
        super().__init__(replay_id, context)
        self.replay_id = replay_id
        self.replay: Replay | None = None
        self._paused_until: datetime | None = None  # after the store went away

    async def rehydrate(self) -> None:
        self.replay = await self.context.ledger.get(Replay, aggregate_id(self.replay_id))

    async def handle(self, command: ReplayCommand) -> Reply:
        now = self.context.now()
        match command:
            case StartReplay():
                assert self.replay is None, "a replay id is new"
                replay = Replay(
                    replay_id=command.replay_id,
                    account_id=command.account_id,
                    agent_id=command.agent_id,
                    target=command.target,
                    filter=command.filter,
                    rate_per_second=command.rate_per_second,
                    name=command.name,
                    message_ids=command.message_ids,
                    at=now,
                )
                replay.complete_if_empty(now)
                self.replay = replay
                self.stage(replay)
                return self.answer(command.ticket, 202, {"replay": replay_document(replay)}, now)
            case RunReplay():
                await self._take_next()
                return Reply(200, {})
            case CancelReplay():
                if self.replay is None:
                    raise NotFound("replay")
                self.replay.cancel(command.by, now)
                self.stage(self.replay)
                return self.answer(
                    command.ticket, 200, {"replay": replay_document(self.replay)}, now
                )
            case _:
                assert_never(command)

    async def _take_next(self) -> None:
        replay = self.replay
        due = self.next_deadline()
        if replay is None or due is None or due > self.context.now():
            return
        message_id = replay.next_message_id
        assert message_id is not None
        try:
            result, error = await self._replay_one(replay, message_id)
        except (StoreUnavailable, LedgerNotHeld):
            # Not the message's fault: take it again once the store may be back.
            self._paused_until = self.context.now() + _PAUSE
            raise
        replay.record_item(result, error, self.context.now())
        self.stage(replay)

    async def _replay_one(self, replay: Replay, message_id: str) -> tuple[ItemResult, str | None]:
        context = self.context
        start = StartReplayAttempt(replay.agent_id, message_id, replay.replay_id, replay.target)
        try:
            answer = (await context.ask(start)).body
        except (StoreUnavailable, LedgerNotHeld):
            raise
        except AtpError as refused:
            return "skipped", refused.code  # gone, never handed out, another's
        if answer["state"] == "waiting":
            return "delivered", None  # claimable again: an inbox claim hands it out
        if answer["state"] == "finished":
            return answer["result"], answer["error"]
        job = WebhookJob(
            replay.agent_id,
            message_id,
            answer["delivery_id"],
            claim_token="",
            body=answer["body"],
            replay_id=replay.replay_id,
        )
        outcome, url = await context.pushes.push_once(job)
        finish = FinishReplayAttempt(
            replay.agent_id, message_id, replay.replay_id, outcome.status, outcome.error, url
        )
        answer = (await context.ask(finish)).body
        return answer["result"], answer["error"]

    # -- deadlines ------------------------------------------------------------------------

    def next_deadline(self) -> datetime | None:
        """When the next item may be taken: at once, or one rate step after the last."""
        replay = self.replay
        if replay is None or replay.next_message_id is None:
            return None
        last, rate = replay.last_item_at, replay.rate_per_second
        due = last or replay.created_at
        if last is not None and rate:
            due = last + timedelta(seconds=1 / rate)
        return due if self._paused_until is None else max(due, self._paused_until)

    def deadline_command(self) -> ReplayCommand:
        return RunReplay(self.replay_id)

    def keep_running_for(self) -> float:
        return math.inf  # while the replay runs: its items are its own deadlines

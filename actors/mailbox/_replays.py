"""MailboxReplays: one mailbox's part in replays (the mailbox stays the only writer).

A replay actor asks the recipient's mailbox to start the replay of each message and,
for a push, to record how it ended. The mailbox records both on the message and
answers what the replay actor needs: whether to push now, or what was recorded
before (a replay never sends one message twice: a start found unfinished after a
restart is recorded as interrupted, never pushed again).

An inbox replay waits here until an inbox claim finds no regular message to hand
out; it is handed out once, in the claim's shape, and recorded as delivered. The
waiting ones are rebuilt from the views when the mailbox starts.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from atp.actors.commands import Reply
from atp.actors.replay_commands import FinishReplayAttempt, StartReplayAttempt
from atp.domain import Message, ReplayAttempt
from atp.errors import NotFound
from atp.projections import Queries
from atp.wire import claim_document, iso, push_body

__all__ = ["MailboxReplays"]

_INTERRUPTED = "interrupted"  # the carrier stopped while the push was in flight


class MailboxReplays:
    """Replay attempts of one recipient's messages, and its inbox replays waiting."""

    def __init__(self, agent_id: str, queries: Queries) -> None:
        self.agent_id = agent_id
        self.queries = queries
        self.waiting: dict[tuple[str, str], None] = {}  # (replay id, message id), in order

    async def rehydrate(self) -> None:
        self.waiting = dict.fromkeys(await self.queries.waiting_inbox_replays(self.agent_id))

    def record(
        self, message: Message, command: StartReplayAttempt | FinishReplayAttempt, now: datetime
    ) -> Reply:
        """A replay's part in ``message``: its attempt started, or how its push ended."""
        if isinstance(command, StartReplayAttempt):
            return self.start(message, command, now)
        return self.finish(message, command, now)

    def start(self, message: Message, command: StartReplayAttempt, now: datetime) -> Reply:
        """Start the message's attempt in the replay, or answer the one started before.

        The answer's ``state``: ``push`` (make the push now: ``body`` is what to post
        under ``delivery_id``), ``waiting`` (an inbox replay, handed out by a claim), or
        ``finished`` (``result`` and ``error`` as recorded).
        """
        before = message.replays.get(command.replay_id)
        attempt = message.start_replay(command.replay_id, command.target, now)
        if before is None and attempt.target == "inbox":
            self.waiting[(command.replay_id, message.message_id)] = None
            return Reply(200, {"state": "waiting"})
        if before is None:
            delivery_id = attempt.delivery_id
            body = push_body(message, delivery_id)  # the original push's bytes
            return Reply(200, {"state": "push", "delivery_id": delivery_id, "body": body})
        if attempt.result is None and attempt.target == "webhook":
            message.record_replay(command.replay_id, None, _INTERRUPTED, None, now)
        if attempt.result is None:
            return Reply(200, {"state": "waiting"})
        return Reply(200, _finished(attempt))

    def finish(self, message: Message, command: FinishReplayAttempt, now: datetime) -> Reply:
        """Record how the push ended (once: a second report answers the first)."""
        attempt = message.replays.get(command.replay_id)
        if attempt is None:
            raise NotFound("replay attempt")
        if attempt.result is None:
            message.record_replay(
                command.replay_id,
                command.response_status,
                command.error,
                command.request_url,
                now,
            )
        return Reply(200, _finished(attempt))

    async def hand_out(
        self, load: Callable[[str], Awaitable[Message]], lease_seconds: int, now: datetime
    ) -> tuple[Message, dict[str, Any]] | None:
        """The oldest inbox replay waiting, handed out and recorded; None if none waits.

        Nothing is leased: the answer has a claim's shape, and an ACK of it is checked
        against the original delivery like any other.
        """
        while self.waiting:
            replay_id, message_id = next(iter(self.waiting))
            del self.waiting[(replay_id, message_id)]
            try:
                message = await load(message_id)
            except NotFound:
                continue
            attempt = message.replays.get(replay_id)
            if attempt is None or attempt.result is not None:
                continue
            message.record_replay(replay_id, None, None, None, now)
            delivery = message.delivery(attempt.delivery_id)
            document = claim_document(message, delivery)
            document["leased_until"] = iso(now + timedelta(seconds=lease_seconds))
            document["replay_id"] = replay_id
            return message, document
        return None


def _finished(attempt: ReplayAttempt) -> dict[str, Any]:
    return {"state": "finished", "result": attempt.result, "error": attempt.error}

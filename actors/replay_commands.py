"""The replay's commands: to its actor, and to the mailboxes whose messages it takes."""

from __future__ import annotations

from typing import Any, final

import attrs

from atp.actors._idempotency import Ticket
from atp.domain import ReplayTarget

__all__ = [
    "CancelReplay",
    "FinishReplayAttempt",
    "ReplayCommand",
    "RunReplay",
    "StartReplay",
    "StartReplayAttempt",
]


@final
@attrs.frozen
class StartReplay:
    replay_id: str
    account_id: str
    agent_id: str
    target: ReplayTarget
    filter: dict[str, Any]
    rate_per_second: float | None
    name: str | None
    message_ids: list[str] = attrs.field(repr=False)
    ticket: Ticket


@final
@attrs.frozen
class RunReplay:
    """Take the replay's next item (its own deadline, or the sweep after a restart)."""

    replay_id: str


@final
@attrs.frozen
class CancelReplay:
    replay_id: str
    by: str  # the agent or account asking
    ticket: Ticket


ReplayCommand = StartReplay | RunReplay | CancelReplay


@final
@attrs.frozen
class StartReplayAttempt:
    """A replay takes one of the recipient's messages (the replay actor asks)."""

    recipient_agent_id: str
    message_id: str
    replay_id: str
    target: ReplayTarget


@final
@attrs.frozen
class FinishReplayAttempt:
    """How a replay's push of a message ended (the replay actor reports)."""

    recipient_agent_id: str
    message_id: str
    replay_id: str
    response_status: int | None
    error: str | None
    request_url: str | None = attrs.field(repr=False)

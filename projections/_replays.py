"""ReplaysView: the replays still running, and the inbox replays waiting for a claim.

Both are what a restart needs: the sweep wakes each running replay's actor, and a
mailbox rebuilds its waiting inbox replays, in the order they were started. A
replay's progress is read from its aggregate, not from here.
"""

from __future__ import annotations

from typing import Any

from eventsourcing.domain import DomainEventProtocol

from atp.domain import Message, Replay
from atp.projections._view import View, Writer
from atp.wire import iso

__all__ = ["ReplaysView"]

_FOLDED: frozenset[type] = frozenset(
    {
        Replay.Started,
        Replay.Completed,
        Replay.Cancelled,
        Message.ReplayStarted,
        Message.ReplayAttemptRecorded,
    }
)


class ReplaysView(View):
    """Replays by state; inbox replays by recipient."""

    name = "replays"
    tables = ("atp_replays", "atp_inbox_replays")
    aggregates = (Replay, Message)

    def apply(self, out: Writer, position: int, event: DomainEventProtocol[Any]) -> None:
        if type(event) not in _FOLDED:  # most are a message's other events: one look
            return
        ledger_id = str(event.originator_id)
        match event:
            case Replay.Started():
                out.execute(
                    "INSERT INTO atp_replays (id, ledger_id, agent_id, state, created_at)"
                    " VALUES (?, ?, ?, 'running', ?)",
                    (event.replay_id, ledger_id, event.agent_id, iso(event.at)),
                )
            case Replay.Completed() | Replay.Cancelled():
                state = "completed" if isinstance(event, Replay.Completed) else "cancelled"
                out.execute(
                    "UPDATE atp_replays SET state = ? WHERE ledger_id = ?", (state, ledger_id)
                )
            case Message.ReplayStarted() if event.target == "inbox":
                # The replay's start is an earlier event: its row is there.
                out.execute(
                    "INSERT INTO atp_inbox_replays (replay_id, message_ledger_id, message_id,"
                    " agent_id, position) SELECT id, ?, ?, agent_id, ? FROM atp_replays"
                    " WHERE id = ?",
                    (ledger_id, event.message_id, position, event.replay_id),
                )
            case Message.ReplayAttemptRecorded():
                out.execute(
                    "DELETE FROM atp_inbox_replays WHERE replay_id = ? AND message_ledger_id = ?",
                    (event.replay_id, ledger_id),
                )

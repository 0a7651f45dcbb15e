"""SessionsView: one row per session, what session reads and the sweep ask for.

The session object is rendered from these columns at read time; a session's
transcript is its messages in ``atp_messages`` (``MessagesView``), by sequence.
"""

from __future__ import annotations

from typing import Any

from eventsourcing.domain import DomainEventProtocol

from atp.domain import STATUS_AFTER, Session
from atp.projections._view import View, Writer
from atp.wire import iso

__all__ = ["SessionsView"]


class SessionsView(View):
    """Sessions by participant and status, with their sequence counter."""

    name = "sessions"
    tables = ("atp_sessions",)
    aggregates = (Session,)

    def apply(self, out: Writer, position: int, event: DomainEventProtocol[Any]) -> None:
        ledger_id = str(event.originator_id)
        match event:
            case Session.Requested():
                out.execute(
                    "INSERT INTO atp_sessions (id, ledger_id, position, initiator_agent_id,"
                    " recipient_agent_id, opening_message_id, status, last_sequence, created_at)"
                    " VALUES (?, ?, ?, ?, ?, ?, 'pending', 1, ?)",
                    (
                        event.session_id,
                        ledger_id,
                        position,
                        event.initiator_agent_id,
                        event.recipient_agent_id,
                        event.opening_message_id,
                        iso(event.at),
                    ),
                )
            case Session.TurnAppended():
                out.execute(
                    "UPDATE atp_sessions SET last_sequence = ? WHERE ledger_id = ?",
                    (event.sequence, ledger_id),
                )
            case Session.Accepted():
                out.execute(
                    "UPDATE atp_sessions SET status = 'open', opened_at = ? WHERE ledger_id = ?",
                    (iso(event.at), ledger_id),
                )
            case Session.Rejected() | Session.Failed() | Session.Closed():
                out.execute(
                    "UPDATE atp_sessions SET status = ?, terminal_at = ? WHERE ledger_id = ?",
                    (STATUS_AFTER[type(event)], iso(event.at), ledger_id),
                )

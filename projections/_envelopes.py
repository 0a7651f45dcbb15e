"""EnvelopesView: the AMTP messages the gateway accepted, for ``GET /v1/messages``; which
local message, or which relay to another domain, carries each to whom (an AMTP inbox
names messages by AMTP id); and which relays and workflows are still running (the
sweep wakes their actors after a restart)."""

from __future__ import annotations

from typing import Any

from eventsourcing.domain import DomainEventProtocol

from atp.domain import AmtpEnvelope, AmtpRelay, Workflow
from atp.projections._view import View, Writer
from atp.wire import iso

__all__ = ["EnvelopesView"]


class EnvelopesView(View):
    """AMTP messages, their recipients and their relays."""

    name = "amtp_messages"
    tables = ("atp_amtp_messages", "atp_amtp_recipients", "atp_amtp_workflows")
    aggregates = (AmtpEnvelope, AmtpRelay, Workflow)

    def apply(self, out: Writer, position: int, event: DomainEventProtocol[Any]) -> None:
        match event:
            case AmtpEnvelope.Accepted():
                self._accepted(out, position, event)
            case Workflow.Started():
                out.execute(
                    "INSERT INTO atp_amtp_workflows (workflow_id, ledger_id, status)"
                    " VALUES (?, ?, 'in_progress')",
                    (event.workflow_id, str(event.originator_id)),
                )
            case Workflow.Ended():
                out.execute(
                    "UPDATE atp_amtp_workflows SET status = ? WHERE ledger_id = ?",
                    (event.status, str(event.originator_id)),
                )
            case AmtpRelay.Delivered() | AmtpRelay.Abandoned():
                state = "delivered" if isinstance(event, AmtpRelay.Delivered) else "failed"
                out.execute(
                    "UPDATE atp_amtp_recipients SET relay_status = ? WHERE relay_ledger_id = ?",
                    (state, str(event.originator_id)),
                )

    @staticmethod
    def _accepted(out: Writer, position: int, event: AmtpEnvelope.Accepted) -> None:
        out.execute(
            "INSERT INTO atp_amtp_messages (message_id, position, sender, sender_agent_id,"
            " sender_account_id, created_at) VALUES (?, ?, ?, ?, ?, ?)",
            (
                event.message_id,
                position,
                event.document["sender"],
                event.sender_agent_id,
                event.sender_account_id,
                iso(event.at),
            ),
        )
        for recipient in event.recipients:
            relay = recipient.get("relay_id")
            out.execute(
                "INSERT INTO atp_amtp_recipients (message_id, address, local_message_id,"
                " agent_id, account_id, relay_id, relay_ledger_id, relay_status)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    event.message_id,
                    recipient["address"].lower(),
                    recipient["message_id"],
                    recipient["agent_id"],
                    recipient["account_id"],
                    relay,
                    None if relay is None else str(AmtpRelay.create_id(relay)),
                    None if relay is None else "pending",
                ),
            )

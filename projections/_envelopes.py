"""EnvelopesView: the AMTP messages the gateway accepted, for ``GET /v1/messages``, and
which local message carries each to whom (an AMTP inbox names messages by AMTP id)."""

from __future__ import annotations

from typing import Any

from eventsourcing.domain import DomainEventProtocol

from atp.domain import AmtpEnvelope
from atp.projections._view import View, Writer
from atp.wire import iso

__all__ = ["EnvelopesView"]


class EnvelopesView(View):
    """AMTP messages and their recipients."""

    name = "amtp_messages"
    tables = ("atp_amtp_messages", "atp_amtp_recipients")
    aggregates = (AmtpEnvelope,)

    def apply(self, out: Writer, position: int, event: DomainEventProtocol[Any]) -> None:
        if not isinstance(event, AmtpEnvelope.Accepted):
            return
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
            out.execute(
                "INSERT INTO atp_amtp_recipients (message_id, address, local_message_id,"
                " agent_id, account_id) VALUES (?, ?, ?, ?, ?)",
                (
                    event.message_id,
                    recipient["address"].lower(),
                    recipient["message_id"],
                    recipient["agent_id"],
                    recipient["account_id"],
                ),
            )

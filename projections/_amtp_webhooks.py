"""WebhooksView: the AMTP delivery-notification webhooks of each agent and account, and
which AMTP messages still owe their senders' webhooks a notice (the sweep has the
notifier follow those after a restart)."""

from __future__ import annotations

import json
from typing import Any

from eventsourcing.domain import DomainEventProtocol

from atp.domain import AmtpEnvelope, AmtpWebhook
from atp.projections._view import View, Writer
from atp.wire import iso

__all__ = ["WebhooksView"]


class WebhooksView(View):
    """Webhooks by owner; messages with notices owed."""

    name = "amtp_webhooks"
    tables = ("atp_amtp_webhooks", "atp_amtp_notices_owed")
    aggregates = (AmtpWebhook, AmtpEnvelope)

    def apply(self, out: Writer, position: int, event: DomainEventProtocol[Any]) -> None:
        match event:
            case AmtpWebhook.Registered():
                out.execute(
                    "INSERT INTO atp_amtp_webhooks (webhook_id, ledger_id, position, account_id,"
                    " agent_id, url, events, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        event.webhook_id,
                        str(event.originator_id),
                        position,
                        event.account_id,
                        event.agent_id,
                        event.url,
                        json.dumps(event.events),
                        iso(event.at),
                    ),
                )
            case AmtpWebhook.Removed():
                out.execute(
                    "UPDATE atp_amtp_webhooks SET removed_at = ? WHERE ledger_id = ?",
                    (iso(event.at), str(event.originator_id)),
                )
            case AmtpEnvelope.Accepted():
                # Owed only if a webhook of its sender (or the sender's account) was live.
                out.execute(
                    "INSERT INTO atp_amtp_notices_owed (ledger_id, message_id) SELECT ?, ?"
                    " WHERE EXISTS (SELECT 1 FROM atp_amtp_webhooks WHERE account_id = ?"
                    " AND (agent_id IS NULL OR agent_id = ?) AND removed_at IS NULL)",
                    (
                        str(event.originator_id),
                        event.message_id,
                        event.sender_account_id,
                        event.sender_agent_id,
                    ),
                )
            case AmtpEnvelope.NoticesSettled():
                out.execute(
                    "DELETE FROM atp_amtp_notices_owed WHERE ledger_id = ?",
                    (str(event.originator_id),),
                )

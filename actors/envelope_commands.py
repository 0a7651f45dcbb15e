"""The commands of an AMTP message's actor: keep the message as accepted, and what its
sender's webhooks were told of it."""

from __future__ import annotations

from typing import Any, final

import attrs

from atp.actors._idempotency import Ticket
from atp.domain import EnvelopeRecipient, NoticeResult

__all__ = ["EnvelopeCommand", "RecordEnvelope", "RecordNotice", "SettleNotices"]


@final
@attrs.frozen
class RecordEnvelope:
    """Keep the AMTP message ``message_id`` and what carries it to each recipient; the
    reply is the §5.2 send answer, kept for the request's idempotency key."""

    message_id: str
    sender_agent_id: str
    sender_account_id: str
    document: dict[str, Any] = attrs.field(repr=False)
    recipients: tuple[EnvelopeRecipient, ...]
    ticket: Ticket
    authenticated: bool = True  # False: unsigned, from another domain's gateway


@final
@attrs.frozen
class RecordNotice:
    """How a notice to a webhook ended (the notifier reports)."""

    message_id: str
    webhook_id: str
    address: str
    event: str
    result: NoticeResult
    attempts: int
    response_status: int | None
    error: str | None


@final
@attrs.frozen
class SettleNotices:
    """Nothing more is owed to the sender's webhooks (the notifier reports)."""

    message_id: str


EnvelopeCommand = RecordEnvelope | RecordNotice | SettleNotices

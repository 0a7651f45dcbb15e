"""The command of an AMTP message's actor: keep the message as accepted."""

from __future__ import annotations

from typing import Any, final

import attrs

from atp.actors._idempotency import Ticket
from atp.domain import EnvelopeRecipient

__all__ = ["EnvelopeCommand", "RecordEnvelope"]


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


EnvelopeCommand = RecordEnvelope

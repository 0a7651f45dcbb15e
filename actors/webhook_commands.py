"""The commands of an AMTP delivery-notification webhook's actor (``AmtpWebhook``)."""

from __future__ import annotations

from typing import final

import attrs

from atp.actors._idempotency import Ticket

__all__ = ["RegisterWebhook", "RemoveWebhook", "WebhookCommand"]


@final
@attrs.frozen
class RegisterWebhook:
    """Register webhook ``webhook_id`` of an agent (or, ``agent_id`` None, of the
    whole account); the reply shows its secret, once."""

    webhook_id: str
    account_id: str
    agent_id: str | None
    url: str
    events: tuple[str, ...]
    secret: str = attrs.field(repr=False)
    ticket: Ticket


@final
@attrs.frozen
class RemoveWebhook:
    """Remove a webhook: its owner's (the agent's, or any of its account's to the
    account's key)."""

    webhook_id: str
    account_id: str
    agent_id: str | None  # the caller: an agent may remove only its own
    ticket: Ticket


WebhookCommand = RegisterWebhook | RemoveWebhook

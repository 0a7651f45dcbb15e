"""WebhooksActor: one AMTP delivery-notification webhook, the only writer of its
``AmtpWebhook``."""

from __future__ import annotations

from typing import Any, assert_never

from atp.actors._actor import Actor
from atp.actors._context import ActorContext
from atp.actors.commands import Reply
from atp.actors.webhook_commands import RegisterWebhook, RemoveWebhook, WebhookCommand
from atp.domain import AmtpWebhook
from atp.errors import Conflict, NotFound
from atp.projections import WebhookRow
from atp.wire import iso

__all__ = ["WebhooksActor", "webhook_answer"]


class WebhooksActor(Actor[WebhookCommand]):
    """One webhook."""

    max_idle = 2.0  # webhooks change rarely
    kind = "amtp_webhook"

    def __init__(self, webhook_id: str, context: ActorContext) -> None:
        super().__init__(webhook_id, context)
        self.webhook_id = webhook_id
        self.webhook: AmtpWebhook | None = None

    async def rehydrate(self) -> None:
        webhook_id = AmtpWebhook.create_id(self.webhook_id)
        self.webhook = await self.context.ledger.get(AmtpWebhook, webhook_id)

    async def handle(self, command: WebhookCommand) -> Reply:
        now = self.context.now()
        webhook = self.webhook
        match command:
            case RegisterWebhook():
                if webhook is not None:
                    raise Conflict("a webhook of that id exists")
                webhook = self.webhook = AmtpWebhook.register(
                    self.webhook_id,
                    command.account_id,
                    command.agent_id,
                    command.url,
                    list(command.events),
                    self.context.sealer.seal(command.secret.encode()),
                    now,
                )
                self.stage(webhook)
                body = {**webhook_answer(webhook), "secret": command.secret}
                return self.answer(command.ticket, 201, body, now)
            case RemoveWebhook():
                if (
                    webhook is None
                    or webhook.removed_at is not None
                    or webhook.account_id != command.account_id
                    or command.agent_id not in (None, webhook.agent_id)
                ):
                    raise NotFound("webhook")
                webhook.remove(now)
                self.stage(webhook)
                body = {"webhook_id": self.webhook_id, "status": "deleted", "timestamp": iso(now)}
                return self.answer(command.ticket, 200, body, now)
            case _:
                assert_never(command)


def webhook_answer(webhook: AmtpWebhook) -> dict[str, Any]:
    """A webhook as its owner sees it: as the view shows it (``WebhookRow``)."""
    created_at = iso(webhook.registered_at) or ""
    events = tuple(webhook.events)
    return WebhookRow(
        webhook.webhook_id, webhook.agent_id, webhook.url, events, created_at
    ).document()

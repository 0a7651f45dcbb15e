"""EnvelopesActor: one AMTP message id, the only writer of its ``AmtpEnvelope``.

Two requests naming one ``message_id`` meet here: the first keeps it, the second is
refused, so one id never names two messages. The notifier's reports of what the
sender's webhooks were told are recorded here too; a message accepted is handed to the
notifier to follow.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, assert_never

from atp.actors._actor import Actor
from atp.actors._context import ActorContext
from atp.actors.commands import Reply
from atp.actors.envelope_commands import (
    EnvelopeCommand,
    RecordEnvelope,
    RecordNotice,
    SettleNotices,
)
from atp.domain import AmtpEnvelope, AmtpRelay, EnvelopeRecipient
from atp.errors import MessageIdTaken, NotFound

__all__ = ["EnvelopesActor", "send_answer"]


class EnvelopesActor(Actor[EnvelopeCommand]):
    """One AMTP message."""

    max_idle = 2.0  # an envelope is written once
    kind = "amtp_message"

    def __init__(self, message_id: str, context: ActorContext) -> None:
        super().__init__(message_id, context)
        self.message_id = message_id
        self.envelope: AmtpEnvelope | None = None
        self._accepted = False

    async def rehydrate(self) -> None:
        envelope_id = AmtpEnvelope.create_id(self.message_id)
        self.envelope = await self.context.ledger.get(AmtpEnvelope, envelope_id)

    async def handle(self, command: EnvelopeCommand) -> Reply:
        match command:
            case RecordEnvelope():
                return self._accept(command)
            case RecordNotice():
                envelope = self._envelope()
                if envelope.record_notice(
                    command.webhook_id,
                    command.address,
                    command.event,
                    command.result,
                    command.attempts,
                    command.response_status,
                    command.error,
                    self.context.now(),
                ):
                    self.stage(envelope)
                return Reply(200, {})
            case SettleNotices():
                envelope = self._envelope()
                if envelope.settle_notices(self.context.now()):
                    self.stage(envelope)
                return Reply(200, {})
            case _:
                assert_never(command)

    def _envelope(self) -> AmtpEnvelope:
        if self.envelope is None:
            raise NotFound("message")
        return self.envelope

    def _accept(self, command: RecordEnvelope) -> Reply:
        if self.envelope is not None:
            raise MessageIdTaken()
        now = self.context.now()
        self.envelope = AmtpEnvelope.accept(
            command.message_id,
            command.sender_agent_id,
            command.sender_account_id,
            command.document,
            list(command.recipients),
            now,
            command.authenticated,
        )
        self.stage(self.envelope, *self._relays(command, now))
        self._accepted = True
        return self.answer(command.ticket, 202, send_answer(self.envelope), now)

    def committed(self) -> None:
        if self._accepted and self.context.notices is not None:
            self.context.notices.watch(self.message_id)
        self._accepted = False

    def _relays(self, command: RecordEnvelope, now: datetime) -> list[AmtpRelay]:
        """A relay per other domain, for its recipients (started in the envelope's
        commit: an accepted message is on its way, also across a crash)."""
        by_relay: dict[str, list[str]] = {}
        for recipient in command.recipients:
            if recipient["relay_id"] is not None:
                by_relay.setdefault(recipient["relay_id"], []).append(recipient["address"])
        attempts = self.context.settings.amtp_max_attempts
        return [
            AmtpRelay.start(
                command.message_id,
                relay.rpartition("@")[2],
                addresses,
                command.sender_agent_id,
                command.sender_account_id,
                attempts,
                now,
            )
            for relay, addresses in by_relay.items()
        ]


def send_answer(envelope: AmtpEnvelope) -> dict[str, Any]:
    """The §5.2 answer to a send: accepted, each recipient queued or failed, and the
    workflow id of a coordinated message."""
    answer = {
        "message_id": envelope.message_id,
        "status": "accepted",
        "recipients": [_recipient(r) for r in envelope.recipients],
    }
    coordination = envelope.document.get("coordination")
    if isinstance(coordination, dict) and "workflow_id" in coordination:
        answer["workflow_id"] = coordination["workflow_id"]  # for the sender to follow
    return answer


def _recipient(recipient: EnvelopeRecipient) -> dict[str, Any]:
    if recipient["message_id"] is not None or recipient["relay_id"] is not None:
        return {"address": recipient["address"], "status": "queued"}
    return {
        "address": recipient["address"],
        "status": "failed",
        "error_code": recipient["error_code"],
        "error_message": recipient["error_message"],
    }

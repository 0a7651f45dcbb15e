"""RelayActor: one AMTP message's way to one other domain's gateway, its only writer
after the envelope's actor started it.

Each attempt is one signed POST of the message, for that domain's recipients, to the
domain's gateway (``Federation.relay``), made here, outside any store transaction,
then recorded on the ``AmtpRelay``; the next is due on AMTP's schedule. A relay given
up is a dead letter, and its sender gets the ``delivery_failure`` report in its inbox,
from the gateway (``<gateway id>@<domain>``), once: the report's send is keyed by the
relay. The actor keeps running while its relay is pending; after a restart the sweep
wakes it.
"""

from __future__ import annotations

import json
import math
from datetime import datetime, timedelta
from typing import assert_never

from atp.actors._actor import Actor
from atp.actors._context import ActorContext
from atp.actors._gateway_mail import gateway_address, mail_from_gateway
from atp.actors.commands import Reply
from atp.actors.relay_commands import RelayCommand, RunRelay, WakeRelay
from atp.amtp import failure_report, relay_message
from atp.domain import AmtpEnvelope, AmtpRelay, next_delay
from atp.errors import StoreUnavailable
from atp.ledger import LedgerNotHeld
from atp.wire import iso

__all__ = ["RelayActor"]

_PAUSE = timedelta(seconds=1)  # before an attempt is made again after the store failed


class RelayActor(Actor[RelayCommand]):
    """One relay: its attempts on AMTP's schedule, and its end."""

    kind = "amtp_relay"

    def __init__(self, relay_id: str, context: ActorContext) -> None:
        super().__init__(relay_id, context)
        self.relay_id = relay_id
        self.relay: AmtpRelay | None = None
        self._paused_until: datetime | None = None

    async def rehydrate(self) -> None:
        relay_key = AmtpRelay.create_id(self.relay_id)
        self.relay = await self.context.ledger.get(AmtpRelay, relay_key)

    async def handle(self, command: RelayCommand) -> Reply:
        match command:
            case WakeRelay():
                return Reply(200, {})
            case RunRelay():
                try:
                    await self._attempt()
                except (StoreUnavailable, LedgerNotHeld):
                    self._paused_until = self.context.now() + _PAUSE
                    raise
                return Reply(200, {})
            case _:
                assert_never(command)

    async def _attempt(self) -> None:
        relay, federation = self.relay, self.context.federation
        due = self.next_deadline()
        if relay is None or federation is None or due is None or due > self.context.now():
            return
        envelope_id = AmtpEnvelope.create_id(relay.message_id)
        envelope = await self.context.ledger.get(AmtpEnvelope, envelope_id)
        assert envelope is not None, "a relay's envelope is committed with it"
        message = relay_message(envelope.document, relay.recipients)
        body = json.dumps(message, separators=(",", ":"), ensure_ascii=False).encode()
        outcome = await federation.relay(relay.domain, body)
        delay = outcome.retry_after or next_delay(relay.attempts + 1)
        relay.record_attempt(outcome.status, outcome.error, delay, self.context.now())
        self.stage(relay)
        if relay.state == "failed":
            await self._report(relay, envelope)

    async def _report(self, relay: AmtpRelay, envelope: AmtpEnvelope) -> None:
        """Tell the sender (a local agent) which recipients were not reached."""
        context = self.context
        report = failure_report(
            relay.relay_id,
            envelope.document["sender"],
            gateway_address(context.settings.domain),
            envelope.document,
            relay.recipients,
            relay.reason or "delivery failed",
            relay.attempts,
            iso(relay.last_attempt_at),
            iso(context.now()) or "",
        )
        key = f"delivery_failure {relay.relay_id}"
        await mail_from_gateway(context, relay.sender_agent_id, report, key)

    # -- deadlines ------------------------------------------------------------------------

    def next_deadline(self) -> datetime | None:
        relay = self.relay
        if relay is None or relay.state != "pending" or relay.due_at is None:
            return None
        paused = self._paused_until
        return relay.due_at if paused is None else max(relay.due_at, paused)

    def deadline_command(self) -> RelayCommand:
        return RunRelay(self.relay_id)

    def keep_running_for(self) -> float:
        return math.inf  # while the relay is pending: its attempts are its own deadlines

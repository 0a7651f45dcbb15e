"""AmtpNotifier: tells senders' webhooks how their AMTP messages went (AMTP §12.1.4).

A message is followed from its acceptance while a webhook of its sender (or of the
sender's account) registered before it hears of it: each time its recipients' local
messages or relays commit (``Arrivals``), their states are read from the ledger and
every webhook is sent the notices it is owed (``message.delivered``,
``message.failed``; once each per recipient), each retried in memory on the webhooks'
schedule, bounded by the sender's plan, then reported to the message's
``EnvelopesActor`` as taken or abandoned. Once every recipient is delivered or failed
and every notice recorded, the message is settled and no longer followed.

A notice in flight when the carrier stops is sent again after the restart (the sweep
has every unsettled message followed) with the same ``webhook-id``: at least once, and
a receiver deduplicates. Notices are signed with the webhook's secret (Standard
Webhooks ``v1``) and go through the webhooks' client, so the same SSRF defence holds.
"""

from __future__ import annotations

import json
import logging
import math
import uuid
from collections.abc import Sequence

import attrs
import trio

from atp.actors._context import ActorContext
from atp.actors.envelope_commands import RecordNotice, SettleNotices
from atp.amtp import local_failure, notice_body
from atp.domain import (
    AmtpEnvelope,
    AmtpRelay,
    AmtpWebhook,
    CarrierStatus,
    Message,
    NoticeResult,
    RetryPolicy,
)
from atp.errors import AtpError
from atp.observe import describe_exception
from atp.push import PostOutcome, WebhookClient
from atp.webhooks import standard_headers
from atp.wire import iso

__all__ = ["AmtpNotifier", "NoticeStatistics"]

log = logging.getLogger(__name__)

# What a recipient came to: the notice it owes, and the AMTP error of a failure.
_Outcome = tuple[str, tuple[str, str | None] | None]
_DELIVERED: _Outcome = ("message.delivered", None)


@attrs.frozen
class NoticeStatistics:
    """Notices ended so far by result (delivered, abandoned); messages followed now."""

    results: tuple[tuple[str, int], ...]
    following: int


class AmtpNotifier:
    """Follows AMTP messages whose senders have webhooks, and sends their notices."""

    def __init__(self, client: WebhookClient, concurrency: int) -> None:
        self.client = client
        self._limiter = trio.CapacityLimiter(concurrency)
        self._send, self._receive = trio.open_memory_channel[str](math.inf)
        self._following: set[str] = set()
        self._context: ActorContext | None = None
        self._results: dict[str, int] = {}  # notices ended, by result

    def statistics(self) -> NoticeStatistics:
        """Counters for /metrics."""
        return NoticeStatistics(tuple(sorted(self._results.items())), len(self._following))

    def watch(self, message_id: str) -> None:
        """Follow the AMTP message (``Notices.watch``)."""
        self._send.send_nowait(message_id)

    async def run(
        self,
        context: ActorContext,
        *,
        task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        """Follow the messages watched, with the ledger, views and clock of ``context``."""
        self._context = context
        async with trio.open_nursery() as followers:
            task_status.started()
            async for message_id in self._receive:
                if message_id not in self._following:
                    self._following.add(message_id)
                    followers.start_soon(self._follow, message_id)

    @property
    def context(self) -> ActorContext:
        assert self._context is not None, "notices are sent only while running"
        return self._context

    async def _follow(self, message_id: str) -> None:
        try:
            await self._send_owed(message_id)
        except Exception as exc:  # the store went away, say: the next sweep follows it again
            log.warning("notices of an AMTP message stopped (%s)", describe_exception(exc))
        finally:
            self._following.discard(message_id)

    async def _send_owed(self, message_id: str) -> None:
        """Send what the message owes its sender's webhooks until it is settled."""
        context = self.context
        envelope_id = AmtpEnvelope.create_id(message_id)
        tried: set[tuple[str, str, str]] = set()  # sent while followed this time
        while not context.arrivals.closed:
            await context.views.wait_current()
            amtp = context.queries.amtp
            hooks = await amtp.hearing_webhooks(message_id)
            if not hooks:  # none, or none left: settled if it owed any
                if await amtp.owes_notices(message_id):
                    await context.ask(SettleNotices(message_id))
                return
            envelope = await context.ledger.get(AmtpEnvelope, envelope_id)
            if envelope is None or envelope.notices_settled:
                return
            arrivals = context.arrivals
            news = [arrivals.event(message_id)]  # before reading: no commit slips by
            news += [arrivals.event(i) for r in envelope.recipients if (i := r["message_id"])]
            webhook_ids = [AmtpWebhook.create_id(h) for h in hooks]
            webhooks = await context.ledger.load_all(AmtpWebhook, webhook_ids)
            outcomes = await self._outcomes(envelope)
            owed = [
                (webhook, address, outcome)
                for webhook in webhooks
                for address, outcome in outcomes.items()
                if outcome is not None
                and outcome[0] in webhook.events
                and (webhook.webhook_id, address, outcome[0]) not in envelope.told
            ]
            fresh = [o for o in owed if (o[0].webhook_id, o[1], o[2][0]) not in tried]
            if fresh:
                async with trio.open_nursery() as sends:
                    for webhook, address, outcome in fresh:
                        tried.add((webhook.webhook_id, address, outcome[0]))
                        sends.start_soon(self._deliver, envelope, webhook, address, outcome)
                continue
            if owed:  # sent, but not recorded (the store away): the sweep comes back to it
                return
            if None not in outcomes.values():
                await context.ask(SettleNotices(message_id))
                return
            await _first_of(news)

    async def _outcomes(self, envelope: AmtpEnvelope) -> dict[str, _Outcome | None]:
        """Each recipient's notice, or None while its delivery goes on."""
        ledger = self.context.ledger
        local = {r["message_id"] for r in envelope.recipients if r["message_id"]}
        relayed = {r["relay_id"] for r in envelope.recipients if r["relay_id"]}
        messages = {
            m.message_id: m
            for m in await ledger.load_all(Message, [Message.create_id(i) for i in local])
        }
        relays = {
            r.relay_id: r
            for r in await ledger.load_all(AmtpRelay, [AmtpRelay.create_id(i) for i in relayed])
        }
        outcomes: dict[str, _Outcome | None] = {}
        for recipient in envelope.recipients:
            address, local_id, relay_id = (
                recipient["address"],
                recipient["message_id"],
                recipient["relay_id"],
            )
            if relay_id is not None and relay_id in relays:
                relay = relays[relay_id]
                failure = ("DELIVERY_FAILED", relay.reason)
                outcomes[address] = {
                    "pending": None,
                    "delivered": _DELIVERED,
                    "failed": ("message.failed", failure),
                }[relay.state]
            elif local_id is not None and local_id in messages:
                status = messages[local_id].carrier_status
                if status == CarrierStatus.QUEUED:
                    outcomes[address] = None
                elif status == CarrierStatus.DELIVERED:
                    outcomes[address] = _DELIVERED
                else:
                    outcomes[address] = ("message.failed", local_failure(status))
            else:  # refused at acceptance
                code = recipient["error_code"] or "DELIVERY_FAILED"
                outcomes[address] = ("message.failed", (code, recipient["error_message"]))
        return outcomes

    async def _deliver(
        self, envelope: AmtpEnvelope, webhook: AmtpWebhook, address: str, outcome: _Outcome
    ) -> None:
        """Send one notice until it is answered 2xx or its attempts run out; report it."""
        context = self.context
        event, error = outcome
        key = f"{webhook.webhook_id} {envelope.message_id} {address} {event}"
        notice_id = f"ntc_{uuid.uuid5(uuid.NAMESPACE_URL, key).hex}"  # the same on retries
        body = json.dumps(
            notice_body(
                event,
                webhook.webhook_id,
                envelope.message_id,
                envelope.document["sender"],
                address,
                iso(context.now()) or "",
                error,
            ),
            separators=(",", ":"),
        ).encode()
        secret = context.sealer.unseal(webhook.sealed_secret).decode()
        retries = RetryPolicy(context.settings.webhook_retry_delays)
        most = await context.webhook_attempts(webhook.account_id)  # as its pushes
        attempts, outcome_of_post = 0, PostOutcome(None, None, None)
        while attempts < most:
            attempts += 1
            now = context.now()
            headers = {
                "content-type": "application/json",
                **standard_headers(notice_id, int(now.timestamp()), body, whsec=secret, whsk=None),
            }
            async with self._limiter:
                try:
                    outcome_of_post = await self.client.post(webhook.url, body, headers)
                except Exception as exc:  # never the text: it could carry a URL
                    log.warning("notice attempt crashed (%s)", describe_exception(exc))
                    outcome_of_post = PostOutcome(None, None, "internal_task_exit")
            status = outcome_of_post.status
            if status is not None and 200 <= status < 300:
                break
            if attempts < most:
                due = retries.next_attempt_at(attempts, outcome_of_post.retry_after, now)
                await trio.sleep(max(0.0, (due - context.now()).total_seconds()))
        status = outcome_of_post.status
        result: NoticeResult = (
            "delivered" if status is not None and 200 <= status < 300 else "abandoned"
        )
        self._results[result] = self._results.get(result, 0) + 1
        log.info(
            "AMTP notice %s",
            result,
            extra={"message_id": envelope.message_id, "attempts": attempts, "status": status},
        )
        try:
            await context.ask(
                RecordNotice(
                    envelope.message_id,
                    webhook.webhook_id,
                    address,
                    event,
                    result,
                    attempts,
                    status,
                    outcome_of_post.error,
                )
            )
        except AtpError as exc:  # not recorded: sent again after a restart, same webhook-id
            log.warning("notice not recorded (%s)", exc.code)


async def _first_of(events: Sequence[trio.Event]) -> None:
    """Return once any of ``events`` is set."""
    async with trio.open_nursery() as waiters:

        async def wait(event: trio.Event) -> None:
            await event.wait()
            waiters.cancel_scope.cancel()

        for event in events:
            waiters.start_soon(wait, event)

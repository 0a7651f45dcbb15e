"""ReceiptCourier: sends each task's receipts to its push-notification configs.

A task is followed while it has a config and has not ended: its message's history is
read, each config is sent the first state change it is owed (one receipt at a time
per config, in order), and the courier waits for the message's next commit
(``Arrivals``). Each receipt is retried in memory on the webhooks' schedule, bounded
by the sender's plan, then reported to the task's ``ReceiptsActor`` as delivered or
abandoned; a 410 deletes its config. A receipt in flight when the carrier stops is
sent again after the restart (the sweep watches every task with receipts owed) with
the same ``webhook-id``: at least once, and a receiver deduplicates.

A receipt is signed as the sender's own webhooks are: Ed25519 (``v1a``) with the
sender agent's signing keys, and HMAC (``v1``) with its endpoint secret if it has an
endpoint; it carries A2A's ``Authorization`` and ``X-A2A-Notification-Token`` headers
from the config. It goes through the webhooks' client, so the same SSRF defence holds.
"""

from __future__ import annotations

import logging
import math

import attrs
import trio

from atp.actors._context import ActorContext
from atp.actors._signing import signing_secrets
from atp.actors.receipt_commands import DeletePushConfig, RecordReceipt
from atp.domain import PushConfig, ReceiptResult, RetryPolicy, TaskReceipts, aggregate_id
from atp.errors import AtpError
from atp.observe import describe_exception
from atp.push import PostOutcome, WebhookClient
from atp.webhooks import standard_headers
from atp.wire import A2A_CONTENT_TYPE, StateChange, state_changes

__all__ = ["ReceiptCourier", "ReceiptStatistics"]

log = logging.getLogger(__name__)


@attrs.frozen
class ReceiptStatistics:
    """Receipts ended so far by result (delivered, abandoned, gone); tasks followed now."""

    results: tuple[tuple[str, int], ...]
    following: int


class ReceiptCourier:
    """Follows tasks with configs and sends their receipts; owns those tasks."""

    def __init__(self, client: WebhookClient, concurrency: int) -> None:
        self.client = client
        self._limiter = trio.CapacityLimiter(concurrency)
        self._send, self._receive = trio.open_memory_channel[str](math.inf)
        self._following: set[str] = set()
        self._again: set[str] = set()  # watched while followed: look once more before ending
        self._context: ActorContext | None = None
        self._results: dict[str, int] = {}  # receipts ended, by result

    def watch(self, task_id: str) -> None:
        """Follow the task (``Receipts.watch``)."""
        self._send.send_nowait(task_id)

    def statistics(self) -> ReceiptStatistics:
        """Counters for /metrics."""
        return ReceiptStatistics(tuple(sorted(self._results.items())), len(self._following))

    async def run(
        self,
        context: ActorContext,
        *,
        task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        """Follow the tasks watched, with the ledger, keys and clock of ``context``."""
        self._context = context
        async with trio.open_nursery() as tasks:
            task_status.started()
            async for task_id in self._receive:
                if task_id in self._following:
                    self._again.add(task_id)
                else:
                    self._following.add(task_id)
                    tasks.start_soon(self._follow, task_id)

    @property
    def context(self) -> ActorContext:
        assert self._context is not None, "receipts are sent only while running"
        return self._context

    async def _follow(self, task_id: str) -> None:
        try:
            await self._send_owed(task_id)
        except Exception as exc:  # the store went away, say: the next sweep watches it again
            log.warning("receipts of a task stopped (%s)", describe_exception(exc))
        finally:
            self._following.discard(task_id)
            self._again.discard(task_id)

    async def _send_owed(self, task_id: str) -> None:
        """Send what the task owes until it has ended and owes nothing, or has no config."""
        context = self.context
        while not context.arrivals.closed:
            news = context.arrivals.event(task_id)  # before reading: no commit slips by
            receipts = await context.ledger.get(TaskReceipts, TaskReceipts.create_id(task_id))
            if receipts is None or not receipts.configs:
                return
            changes = state_changes(await context.ledger.events_after(aggregate_id(task_id), 0))
            owed = {}
            for config_id in receipts.configs:
                position = receipts.position(config_id)
                change = next((c for c in changes if c.version > position), None)
                if change is not None:
                    owed[config_id] = change
            if owed:
                async with trio.open_nursery() as sends:
                    for config_id, change in owed.items():
                        config = receipts.configs[config_id]
                        sends.start_soon(self._deliver, receipts, config_id, config, change)
                continue
            if changes and changes[-1].final and task_id not in self._again:
                return  # ended, and every config has heard of it
            if task_id in self._again:  # watched since it was read: read it again
                self._again.discard(task_id)
                continue
            await news.wait()

    async def _deliver(
        self, receipts: TaskReceipts, config_id: str, config: PushConfig, change: StateChange
    ) -> None:
        """Send one receipt until it is answered 2xx or its attempts run out; report it."""
        context = self.context
        task_id = receipts.message_id
        retries = RetryPolicy(context.settings.webhook_retry_delays)
        most = await context.webhook_attempts(receipts.sender_account_id)  # as its pushes
        attempts, outcome = 0, PostOutcome(None, None, None)
        while attempts < most:
            attempts += 1
            async with self._limiter:
                try:
                    headers = await self._headers(receipts, config, change)
                    outcome = await self.client.post(config["url"], change.body, headers)
                except Exception as exc:  # never the text: it could carry a URL or a header
                    log.warning("receipt attempt crashed (%s)", describe_exception(exc))
                    outcome = PostOutcome(None, None, "internal_task_exit")
            if outcome.status is not None and 200 <= outcome.status < 300:
                break
            if outcome.status == 410:  # the receiver is gone for good: as A2A's delete
                await context.ask(DeletePushConfig(task_id, config_id, "gone"))
                self._count("gone")
                return
            if attempts < most:
                now = context.now()
                due = retries.next_attempt_at(attempts, outcome.retry_after, now)
                await trio.sleep((due - now).total_seconds())
        delivered = outcome.status is not None and 200 <= outcome.status < 300
        result: ReceiptResult = "delivered" if delivered else "abandoned"
        self._count(result)
        log.info(
            "receipt %s",
            result,
            extra={"message_id": task_id, "attempts": attempts, "status": outcome.status},
        )
        try:
            await context.ask(
                RecordReceipt(
                    task_id,
                    config_id,
                    change.version,
                    change.state,
                    change.final,
                    result,
                    attempts,
                    outcome.status,
                    outcome.error,
                )
            )
        except AtpError as exc:  # not recorded: sent again after a restart, same webhook-id
            log.warning("receipt not recorded (%s)", exc.code)

    async def _headers(
        self, receipts: TaskReceipts, config: PushConfig, change: StateChange
    ) -> dict[str, str]:
        context = self.context
        unseal = context.sealer.unseal
        sender = await context.identities.agent(receipts.sender_agent_id)
        now = context.now()
        secret, keys = (None, []) if sender is None else signing_secrets(sender, unseal, now)
        headers = {
            "content-type": A2A_CONTENT_TYPE,
            "a2a-version": "1.0",
            "atp-message-id": receipts.message_id,
            **standard_headers(
                f"{receipts.message_id}:{change.version}",  # the same on every retry
                int(now.timestamp()),
                change.body,
                whsec=secret,
                whsk=keys,
            ),
        }
        if config["sealed_token"] is not None:
            headers["x-a2a-notification-token"] = unseal(config["sealed_token"]).decode()
        if config["scheme"] is not None and config["sealed_credentials"] is not None:
            credentials = unseal(config["sealed_credentials"]).decode()
            headers["authorization"] = f"{config['scheme']} {credentials}"
        return headers

    def _count(self, result: str) -> None:
        self._results[result] = self._results.get(result, 0) + 1

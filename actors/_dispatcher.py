"""WebhookDispatcher: makes the HTTP attempts that mailboxes claim, and reports back.

A mailbox claims a due webhook delivery in its own commit (the attempt's lease), then
hands the dispatcher a ``WebhookJob``. The dispatcher runs each attempt as its own
task, outside any store transaction, bounded by a process-wide limiter (mailboxes
bound their own share, so one slow receiver cannot take every slot). When the
attempt ends it tells the mailbox, which records it and decides on a retry.

An attempt that crashes is reported as ``internal_task_exit`` and retried like a
transport error (contract §5.4). An attempt lost with the process is retried after
its lease, by the mailbox that rehydrates it. An A2A recipient's task answered as going
on is followed from here too (``RemoteTaskFollower``), with the same client and slots.
"""

from __future__ import annotations

import logging
import math
import time

import attrs
import trio

from atp.actors._context import ActorContext
from atp.actors._pushes import WebhookJob
from atp.actors._remote_tasks import RemoteTaskFollower
from atp.actors._signing import signing_secrets
from atp.actors.commands import DisableWebhookEndpoint, FinishWebhookAttempt
from atp.domain import AckStatus, Agent
from atp.errors import AtpError, WebhookEndpointInactive
from atp.observe import REQUEST_ID, describe_exception
from atp.push import PostOutcome, WebhookClient
from atp.webhooks import reference_signature, standard_headers
from atp.wire import A2AAnswer, NotAnAnswer, read_answer, send_message_request

__all__ = ["WebhookDispatcher", "WebhookStatistics"]

log = logging.getLogger(__name__)


@attrs.frozen
class WebhookStatistics:
    """Attempts finished so far by outcome; slots in use, in all, free; attempts waiting
    for a slot; A2A recipients' tasks followed now."""

    attempts: tuple[tuple[str, int], ...]
    in_flight: int
    capacity: int
    available: int
    pending: int
    remote_tasks: int


def _outcome_label(outcome: PostOutcome) -> str:
    """A short, bounded name for how an attempt ended: ``delivered``, ``http_4xx``,
    ``http_5xx``... or the transport error's code (``timeout``, ``connect_error``...)."""
    if outcome.error is not None:
        return outcome.error
    if outcome.status is None:
        return "no_response"
    return "delivered" if 200 <= outcome.status < 300 else f"http_{outcome.status // 100}xx"


def _answer_of(outcome: PostOutcome) -> tuple[PostOutcome, A2AAnswer | None]:
    """An A2A recipient's 2xx answer, read: its task state (the ACK to record), or the
    attempt's error when it is not an answer (retried as a transport error would be)."""
    if outcome.status is None or not 200 <= outcome.status < 300:
        return outcome, None
    try:
        return outcome, read_answer(outcome.body)
    except NotAnAnswer as refused:
        return PostOutcome(None, None, refused.error), None


class WebhookDispatcher:
    """Runs webhook attempts; owns their tasks and the HTTP client's connections."""

    def __init__(self, client: WebhookClient, concurrency: int) -> None:
        self.client = client
        self._limiter = trio.CapacityLimiter(concurrency)
        self._send, self._receive = trio.open_memory_channel[WebhookJob](math.inf)
        self._context: ActorContext | None = None  # given by run()
        self._nursery: trio.Nursery | None = None
        self.is_running = False
        self._outcomes: dict[str, int] = {}
        self.remote_tasks = RemoteTaskFollower(client, self._limiter, self._sign)

    def submit(self, job: WebhookJob) -> None:
        """Start an attempt (called by a mailbox once its claim is committed)."""
        self._send.send_nowait(job)

    def follow(self, recipient_agent_id: str, message_id: str) -> None:
        """Follow the task an A2A recipient answered the message with as going on, if
        it did and it is not followed already (``RemoteTaskFollower``)."""
        if self._nursery is not None and self.remote_tasks.takes(message_id):
            remote = self.remote_tasks
            self._nursery.start_soon(remote.follow, self.context, recipient_agent_id, message_id)

    async def run(
        self,
        context: ActorContext,
        *,
        task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        """Make the attempts submitted, with the endpoints, secrets and clock of
        ``context``, and ask it to record each one's end (the mailbox; the account whose
        endpoint answered 410). The context holds this dispatcher, so it comes here."""
        self._context = context
        try:
            async with trio.open_nursery() as attempts:
                self._nursery = attempts
                self.is_running = True
                task_status.started()
                async for job in self._receive:
                    attempts.start_soon(self._attempt, job)
        finally:
            self.is_running = False
            with trio.CancelScope(shield=True):
                await self.client.aclose()

    async def _attempt(self, job: WebhookJob) -> None:
        REQUEST_ID.set(job.request_id)  # this task's own context: its lines carry it
        async with self._limiter:
            started = time.perf_counter()
            answer = None
            try:
                outcome, url, a2a = await self._post(job)
                if a2a:
                    outcome, answer = _answer_of(outcome)
            except Exception as exc:
                # Never the text: it could carry a URL or a header.
                log.warning("webhook attempt crashed (%s)", describe_exception(exc))
                outcome, url = PostOutcome(None, None, "internal_task_exit"), None
            seconds = time.perf_counter() - started
        label = _outcome_label(outcome)
        self._outcomes[label] = self._outcomes.get(label, 0) + 1
        if label == "delivered":  # the recipient answered its push: it is up
            self.context.liveness.seen(job.recipient_agent_id)
        log.info(
            "webhook attempt %s",
            label,
            extra={
                "agent": job.recipient_agent_id,
                "message_id": job.message_id,
                "delivery_id": job.delivery_id,
                "outcome": label,
                "status": outcome.status,
                "duration_ms": round(seconds * 1000, 3),
            },
        )
        await self._report(job, outcome, url, answer)
        if answer is not None and answer.ack_status is AckStatus.ACCEPTED:
            self.follow(job.recipient_agent_id, job.message_id)

    async def push_once(self, job: WebhookJob) -> tuple[PostOutcome, str | None]:
        """Make one attempt now and answer how it ended (a replay's push: nothing is
        retried, nothing reported to the mailbox). It takes a slot like any attempt, and
        a 410 disables the endpoint as any attempt's does.

        Raises:
            AtpError: a 410's endpoint could not be disabled (the store is away).
        """
        async with self._limiter:
            started = time.perf_counter()
            try:
                outcome, url, _ = await self._post(job)
            except Exception as exc:
                log.warning("webhook replay crashed (%s)", describe_exception(exc))
                outcome, url = PostOutcome(None, None, "internal_task_exit"), None
            seconds = time.perf_counter() - started
        await self._disable_if_gone(job, outcome, url)
        label = _outcome_label(outcome)
        log.info(
            "webhook replay %s",
            label,
            extra={
                "agent": job.recipient_agent_id,
                "message_id": job.message_id,
                "delivery_id": job.delivery_id,
                "replay_id": job.replay_id,
                "outcome": label,
                "status": outcome.status,
                "duration_ms": round(seconds * 1000, 3),
            },
        )
        return outcome, url

    def statistics(self) -> WebhookStatistics:
        """Counters for /metrics."""
        limiter = self._limiter
        return WebhookStatistics(
            tuple(sorted(self._outcomes.items())),
            int(limiter.borrowed_tokens),
            int(limiter.total_tokens),
            int(limiter.available_tokens),
            limiter.statistics().tasks_waiting,
            self.remote_tasks.following,
        )

    @property
    def context(self) -> ActorContext:
        assert self._context is not None, "attempts are made only while running"
        return self._context

    async def _post(self, job: WebhookJob) -> tuple[PostOutcome, str | None, bool]:
        """Make the attempt; how it ended, where it went, and whether to an A2A server."""
        # The endpoint is read right before posting: a new URL or secret applies to
        # work already queued (contract §5.1).
        agent = await self.context.identities.agent(job.recipient_agent_id)
        if agent is None or not agent.webhook_active:
            return PostOutcome(None, None, WebhookEndpointInactive.code), None, False
        assert agent.webhook is not None
        url = agent.webhook["url"]
        if agent.endpoint_kind == "a2a":  # an A2A server: its SendMessage, signed alike
            body = send_message_request(job.body, job.delivery_id)
            headers = self._sign(agent, job.delivery_id, job.message_id, body)
            return await self.client.post(url, body, headers), url, True
        headers = self._headers(agent, job.delivery_id, job.message_id, job.body, job.replay_id)
        return await self.client.post(url, job.body, headers), url, False

    def _sign(
        self,
        agent: Agent,
        delivery_id: str,
        message_id: str,
        body: bytes,
        webhook_id: str | None = None,
    ) -> dict[str, str]:
        """The headers of a call to an A2A recipient: a push's, and A2A's version."""
        headers = self._headers(agent, delivery_id, message_id, body, webhook_id=webhook_id)
        return {**headers, "a2a-version": "1.0"}

    def _headers(
        self,
        agent: Agent,
        delivery_id: str,
        message_id: str,
        body: bytes,
        replay_id: str | None = None,
        webhook_id: str | None = None,
    ) -> dict[str, str]:
        """Both signature schemes, so either kind of receiver verifies (contract §5.3).
        The ``webhook-id`` is the delivery's unless another is given (a call that is not
        the push, which a receiver deduplicating on it must not take for a retry)."""
        endpoint = agent.webhook
        unseal = self.context.sealer.unseal
        now = self.context.now()
        secret, signing_keys = signing_secrets(agent, unseal, now)
        assert endpoint is not None and secret is not None
        timestamp = int(now.timestamp())
        headers = {
            "content-type": "application/json",
            "atp-delivery-id": delivery_id,
            "atp-message-id": message_id,
            "atp-timestamp": str(timestamp),
            "atp-signature": reference_signature(secret, timestamp, body),
            # webhook-id is the delivery id: stable across retries, so receivers dedupe.
            **standard_headers(
                webhook_id or delivery_id, timestamp, body, whsec=secret, whsk=signing_keys
            ),
        }
        if replay_id is not None:
            headers["atp-replay-id"] = replay_id
        if endpoint["sealed_authorization"] is not None:
            headers["authorization"] = unseal(endpoint["sealed_authorization"]).decode()
        return headers

    async def _disable_if_gone(
        self, job: WebhookJob, outcome: PostOutcome, url: str | None
    ) -> None:
        """A 410 answer disables the endpoint that gave it (docs/api.md), not one set since."""
        if outcome.status == 410 and url is not None:
            agent = await self.context.identities.agent(job.recipient_agent_id)
            if agent is not None:
                await self.context.ask(
                    DisableWebhookEndpoint(agent.account_id, agent.agent_id, url)
                )

    async def _report(
        self, job: WebhookJob, outcome: PostOutcome, url: str | None, answer: A2AAnswer | None
    ) -> None:
        try:
            await self._disable_if_gone(job, outcome, url)
            await self.context.ask(
                FinishWebhookAttempt(
                    job.recipient_agent_id,
                    job.message_id,
                    job.claim_token,
                    outcome.status,
                    outcome.error,
                    outcome.retry_after,
                    url,
                    answer,
                )
            )
        except AtpError as exc:
            # The mailbox refused (a stale claim) or crashed; its rehydration recovers
            # the delivery after the lease.
            log.warning("webhook attempt not recorded (%s)", exc.code)

"""MailboxActor: one recipient agent's messages, the only writer of them.

It takes sends addressed to its agent (applying the agent's sender policies and the
unknown-sender limit), hands messages out to inbox claims, oldest first, under the
single-active-lease rule, extends leases and records ACKs. Because one task owns all
of a recipient's messages, two claimers can never be handed the same message.

Webhook deliveries are claimed here too, in the commit of whatever made them due (a
send, a retry timer, a finished attempt), and handed to the dispatcher once it holds;
the dispatcher reports each attempt back as a command (with an A2A recipient's answer,
recorded as its ACK; later, the end of a task it answered as going on). A replay's
part in a message is recorded here (``MailboxReplays``).

Live state: a window of the open messages, oldest first (``MailboxWindow``: a backlog
beyond it waits on disk), the webhook deliveries still to try, and the recent
unknown-sender sends per sender account. All are rebuilt from the ledger and the views
when the actor starts; an attempt in flight then is recorded when it finishes, or
retried when its lease ends.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, assert_never

from atp.actors._actor import Actor
from atp.actors._context import ActorContext
from atp.actors._idempotency import Ticket
from atp.actors.commands import (
    AnswerOpening,
    CancelMessage,
    ClaimInbox,
    ExpireOpening,
    ExtendLease,
    FeedStream,
    FinishRemoteTask,
    FinishWebhookAttempt,
    Forward,
    MailboxCommand,
    RecordAck,
    RedriveDeadLetter,
    ReleaseDeadLetter,
    ReleaseLeases,
    Reply,
    RunDue,
    SendMessage,
    TakeMessage,
)
from atp.actors.mailbox._replays import MailboxReplays
from atp.actors.mailbox._senders import UnknownSenders
from atp.actors.mailbox._sessions import SessionTurns, Settled
from atp.actors.mailbox._stream_leases import StreamLeases
from atp.actors.mailbox._webhook_queue import WebhookQueue
from atp.actors.mailbox._window import MailboxWindow
from atp.actors.replay_commands import FinishReplayAttempt, StartReplayAttempt
from atp.domain import AckStatus, Agent, Message, RetryPolicy, aggregate_id, new_id
from atp.errors import NotFound, RecipientNotFound, StaleDeliveryClaim, WebhookEndpointInactive
from atp.wire import ack_document, claim_document, message_status, session_document

__all__ = ["MailboxActor"]


class MailboxActor(Actor[MailboxCommand]):
    """One recipient's mailbox."""

    kind = "mailbox"

    def __init__(self, agent_id: str, context: ActorContext) -> None:
        super().__init__(agent_id, context)
        self.agent_id = agent_id
        settings = context.settings
        self.unknown_senders = UnknownSenders(
            limit=settings.unknown_sender_limit, window_seconds=settings.unknown_sender_window
        )
        self.webhooks = WebhookQueue(
            agent_id,
            share=settings.webhook_concurrency_per_agent,
            lease_seconds=settings.webhook_lease,
        )
        self.window = MailboxWindow(agent_id, context, self.webhooks)
        self.replays = MailboxReplays(agent_id, context.queries)
        self.sessions = SessionTurns(self.window, self.webhooks)
        self.streams = StreamLeases(self.window)
        self._retries = RetryPolicy(settings.webhook_retry_delays)

    async def rehydrate(self) -> None:
        self.webhooks.clear()
        await self.window.rehydrate()
        await self.replays.rehydrate()
        since = self.unknown_senders.since(self.context.now())
        sends = await self.context.queries.unknown_sender_times(self.agent_id, since)
        self.unknown_senders.load(
            (account_id, datetime.fromisoformat(sent_at.replace("Z", "+00:00")))
            for account_id, sent_at in sends
        )

    async def handle(self, command: MailboxCommand) -> Reply | Forward:
        now = self.context.now()
        match command:
            case SendMessage():
                return await self._intake(command, now)
            case ClaimInbox():
                return await self._claim(command, now)
            case FeedStream():
                return await self._feed_stream(command, now)
            case TakeMessage():
                message = await self.load(command.message_id)
                delivery = message.take(new_id("dlv"), command.lease_seconds, now)
                self.window.leased(message, delivery.id)
                self.stage(message)
                return Reply(200, claim_document(message, delivery))
            case ReleaseLeases():
                released = await self.streams.release(command.delivery_ids, self.load, now)
                self.stage(*released)
                return Reply(200, {"released": len(released)})
            case ExtendLease():
                message = await self.window.message_of(command.delivery_id, self.load)
                delivery = message.extend(command.delivery_id, command.lease_seconds, now)
                self.stage(message)
                return self.answer(command.ticket, 200, claim_document(message, delivery), now)
            case RecordAck():
                message = await self.window.message_of(command.delivery_id, self.load)
                session = command.session
                checked = self.sessions.check_ack(message, command, now)
                if isinstance(checked, Forward):
                    return checked
                if checked is not None:
                    return self._settle(checked, command.ticket, now)
                ack = message.ack(
                    new_id("ack"), command.delivery_id, command.status, command.payload, now
                )
                if session is not None:
                    session.answer(command.status, now)
                    self.stage(session)
                self.webhooks.end(message, "message_acked", now)
                self.stage(message)
                self.window.close_if_done(message)
                return self.answer(command.ticket, 201, ack_document(message, ack), now)
            case RunDue():
                expired = await self.window.expire_all_due(now, self.staged())
                self.stage(*expired)
                self.context.arrivals.notify(self.agent_id)  # a lease may have ended
                return Reply(200, {"expired": len(expired)})
            case FinishWebhookAttempt():
                return await self._finish_attempt(command, now)
            case FinishRemoteTask():
                message, answer = await self.load(command.message_id), command.answer
                if message.end_remote_task(new_id("ack"), answer.ack_status, answer.payload, now):
                    self.stage(message)
                return Reply(200, {})
            case AnswerOpening():
                session = command.session
                message = await self.load(session.opening_message_id)
                status = AckStatus(command.status)
                settled = self.sessions.answer(message, session, status, command.payload, now)
                return self._settle(settled, command.ticket, now)
            case ExpireOpening():
                message = await self.load(command.session.opening_message_id)
                return self._settle(self.sessions.expire(message, command.session, now), None, now)
            case RedriveDeadLetter():
                message = await self.load(command.message_id)
                recipient = await self._recipient()
                if not recipient.webhook_active:
                    raise WebhookEndpointInactive()
                attempts = await self.context.webhook_attempts(recipient.account_id)
                message.redrive(new_id("dlv"), attempts, now)
                return self._reopened(message, command.ticket, now)
            case ReleaseDeadLetter():
                message = await self.load(command.message_id)
                message.release(now)
                return self._reopened(message, command.ticket, now)
            case CancelMessage():
                message = await self.load(command.message_id)
                if message.cancel(command.sender_agent_id, now):
                    self.stage(message)
                    self.window.close_if_done(message)
                return Reply(200, message_status(message))
            case StartReplayAttempt() | FinishReplayAttempt():
                message = await self.load(command.message_id)
                self.stage(message)
                return self.replays.record(message, command, now)
            case _:
                assert_never(command)

    def skips_lookup(self, command: MailboxCommand) -> bool:
        # A lent session is its session actor's state, which our rehydration cannot undo.
        return getattr(command, "session", None) is None

    async def before_commit(self) -> None:
        await self._claim_due_webhooks(self.context.now())

    def committed(self) -> None:
        for job in self.webhooks.take_claimed():
            self.context.pushes.submit(job)
        self.context.arrivals.notify(self.agent_id)

    # -- commands -----------------------------------------------------------------------

    async def _intake(self, command: SendMessage, now: datetime) -> Reply:
        settings = self.context.settings
        recipient = await self._recipient()
        trust, blocked = recipient.trust_for(command.sender_agent_id, command.sender_account_id)
        unknown = trust == "untrusted" and command.sender_account_id != recipient.account_id
        if unknown and not blocked:
            self.unknown_senders.check(command.sender_account_id, now)
        # A session lends itself: its opening is sequence 1, a turn the next number.
        session = command.session
        message_id, sequence = new_id("msg"), None
        if session is not None:
            opening = session.status == "pending"
            message_id = session.opening_message_id if opening else message_id
            sequence = 1 if opening else session.append_turn(message_id)
        message = Message.create(
            message_id,
            sender_agent_id=command.sender_agent_id,
            sender_account_id=command.sender_account_id,
            recipient_agent_id=self.agent_id,
            recipient_account_id=recipient.account_id,
            trust=trust,
            payload=command.payload,
            at=now,
            expires_at=now + timedelta(seconds=settings.message_ttl),
            session_id=session.session_id if session is not None else None,
            session_sequence=sequence,
        )
        if blocked:
            message.reject(now)
            if session is not None and sequence == 1:
                session.refuse(now)  # the recipient blocks the initiator: rejected at once
        elif trust == "trusted" and recipient.webhook_active:
            message.schedule_webhook(
                new_id("dlv"), await self.context.webhook_attempts(recipient.account_id), now
            )
        if unknown and not blocked:
            self.unknown_senders.record(command.sender_account_id, now)
        if message.is_open:
            self.window.admit(message)
        self.stage(message)
        if session is None:
            return self.answer(command.ticket, 201, message_status(message), now)
        self.stage(session)
        body = {"session": session_document(session), "message_status": message_status(message)}
        return self.answer(command.ticket, 201, body, now)

    async def _claim(self, command: ClaimInbox, now: datetime) -> Reply:
        claims = await self._hand_out(command.most or 1, command.lease_seconds, now)
        if command.most is not None:
            body: dict[str, Any] = {"deliveries": claims}
        else:
            body = claims[0] if claims else {"delivery": None}
        if claims:
            return self.answer(command.ticket, 201, body, now)
        if command.wait:
            return Reply(200, body)  # not kept: the long poll asks again
        return self.answer(command.ticket, 200, body, now)

    async def _feed_stream(self, command: FeedStream, now: datetime) -> Reply:
        lease = command.lease_seconds
        holding, renewed = await self.streams.renew(command.holding, lease, self.load, now)
        self.stage(*renewed)
        room = command.credit - len(holding)
        claims = await self._hand_out(room, lease, now) if room > 0 else []
        return Reply(200, {"holding": holding, "deliveries": claims})

    async def _hand_out(self, most: int, lease_seconds: int, now: datetime) -> list[dict[str, Any]]:
        """Up to ``most`` claims, as that many claims in a row would make them: the
        oldest claimable messages, a session's in order, then inbox replays."""
        claims: list[dict[str, Any]] = []
        self.stage(*self.window.expire_due(now))
        while True:
            held: set[str] = set()  # sessions with an earlier message outstanding (§6.4)
            for message in self.window.open.values():  # oldest first: one pass decides order
                if len(claims) == most:
                    break
                if message.session_id in held:
                    continue
                if message.claimable(now):
                    delivery = message.lease(new_id("dlv"), lease_seconds, now)
                    self.window.leased(message, delivery.id)
                    self.stage(message)
                    claims.append(claim_document(message, delivery))
                if message.session_id is not None and message.outstanding(now):
                    held.add(message.session_id)
            if len(claims) == most or not self.window.beyond:
                break
            if not await self.window.page_in(self.staged()):
                break
            self.stage(*self.window.expire_due(now))
        while len(claims) < most:  # regular messages first: a replay is history
            replayed = await self.replays.hand_out(self.load, lease_seconds, now)
            if replayed is None:
                break
            self.stage(replayed[0])
            claims.append(replayed[1])
        return claims

    # -- webhook deliveries ---------------------------------------------------------------

    async def _claim_due_webhooks(self, now: datetime) -> None:
        """Claim every due webhook delivery, oldest message first, up to this mailbox's
        share of the dispatcher; end those that can no longer be tried."""
        await self.window.page_in_webhook_work(now, self.staged())
        self.webhooks.release_held()
        due = self.webhooks.due(now)
        if not due:
            return
        recipient = await self._recipient_or_none()
        endpoint_active = recipient is not None and recipient.webhook_active
        # The open set is scanned only when a due delivery belongs to a session.
        sessions = self.sessions
        first = sessions.first_outstanding(now) if any(m.session_id for m in due) else {}
        for message in due:
            reason = message.webhook_end_reason(endpoint_active, now)
            if reason is not None:
                message.expire_if_due(now)
                self.webhooks.end(message, reason, now)
            elif message.active_lease(now) is not None:
                continue  # a polling lease holds it; due again when that lease ends
            elif not sessions.in_order(message, first) or await self.window.turn_waits_beyond(
                message
            ):
                self.webhooks.hold(message.message_id)  # an earlier turn goes first
                continue
            elif self.webhooks.full:
                break
            else:
                self.webhooks.claim(message, now)
            self.stage(message)
            self.window.close_if_done(message)

    async def _finish_attempt(self, command: FinishWebhookAttempt, now: datetime) -> Reply:
        message = self.webhooks.waiting(command.message_id)
        if message is None:  # claimed before this mailbox restarted: recorded all the same
            try:
                message = await self.load(command.message_id)
            except NotFound:
                raise StaleDeliveryClaim() from None
        result = message.finish_webhook_attempt(
            command.claim_token,
            new_id("wha"),
            command.response_status,
            command.error,
            command.retry_after,
            command.request_url,
            self._retries,
            now,
        )
        if (answer := command.answer) and result == "delivered" and not message.session_id:
            message.ack_pushed(new_id("ack"), answer.ack_status, answer.payload, now)
        self.webhooks.finished(message)
        self.stage(message)
        self.window.after_attempt(message)
        return Reply(200, {})

    def _settle(self, settled: Settled, ticket: Ticket | None, now: datetime) -> Reply:
        """Stage what a session step changed and reply (stored if the reply is kept)."""
        self.stage(*settled.changed)
        if settled.kept:
            assert ticket is not None
            return self.answer(ticket, settled.status, settled.body, now)
        return Reply(settled.status, settled.body)

    def _reopened(self, message: Message, ticket: Ticket, now: datetime) -> Reply:
        self.stage(message)
        self.window.keep(message)
        return self.answer(ticket, 200, message_status(message), now)

    # -- deadlines ------------------------------------------------------------------------

    def next_deadline(self) -> datetime | None:
        return self.window.next_deadline(self.context.now())

    def deadline_command(self) -> MailboxCommand:
        return RunDue(self.agent_id)

    def keep_running_for(self) -> float:
        return self.context.settings.sweep_horizon

    # -- helpers ------------------------------------------------------------------------

    async def _recipient(self) -> Agent:
        if (agent := await self._recipient_or_none()) is None:
            raise RecipientNotFound()
        return agent

    async def _recipient_or_none(self) -> Agent | None:
        agent = await self.context.identities.agent(self.agent_id)
        return agent if agent is not None and agent.status == "active" else None

    async def load(self, message_id: str, what: str = "message") -> Message:
        """One of this recipient's messages, live or from the ledger; else ``NotFound(what)``."""
        message = self.window.live(message_id)
        if message is None:
            message = await self.context.ledger.get(Message, aggregate_id(message_id))
        if message is None or message.recipient_agent_id != self.agent_id:
            raise NotFound(what)
        if self.window.live(message_id) is None and not message.is_open:
            self.window.close(message)  # one copy: later commands of the batch find this one
        return message

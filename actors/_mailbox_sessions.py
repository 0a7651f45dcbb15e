"""What a mailbox does for sessions: answer an opening, expire one, keep turns in order.

The session actor lends its ``Session`` for these commands (see ``SessionActor``), so
the answer and the session's new status commit together with the opening message's
ACK or expiry. Ordering (contract §6.4) is the mailbox's own: a session message is
handed out, by a claim or a webhook, only when no earlier message of its session in
this mailbox is still outstanding.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from atp.actors._commands import (
    AckOpening,
    AnswerOpening,
    ExpireOpening,
    Forward,
    RecordAck,
    Reply,
)
from atp.domain import AckStatus, Message, Session, new_id
from atp.errors import DeliveryInProgress, MessageExpired
from atp.wire import ack_document, session_document

if TYPE_CHECKING:
    from atp.actors._mailbox import MailboxActor

__all__ = [
    "answer_opening",
    "check_opening_ack",
    "expire_opening",
    "first_outstanding",
    "in_order",
]

_ANSWER_LEASE = 60  # seconds, the lease of a delivery created to carry an answer (§1.12)


async def answer_opening(mailbox: MailboxActor, command: AnswerOpening, now: datetime) -> Reply:
    """Accept or reject a pending session through an ACK of its opening message."""
    session = command.session
    message = await mailbox.load(session.opening_message_id)
    if message.expires_at <= now:
        return _expired(mailbox, message, session, now)
    status = AckStatus(command.status)
    message.check_ack_transition(status)  # before anything is recorded
    delivery = message.ackable_delivery(now)
    if delivery is None:
        if message.active_lease(now) is not None:
            raise DeliveryInProgress()  # a webhook attempt holds it
        delivery = message.lease(new_id("dlv"), _ANSWER_LEASE, now)
        mailbox.window.delivery_index[delivery.id] = message.message_id
    ack = message.ack(new_id("ack"), delivery.id, status, command.payload, now)
    session.answer(command.status, now)
    mailbox.webhooks.end(message, "message_acked", now)
    mailbox.stage(message, session)
    mailbox.close(message)
    body = {**ack_document(message, ack), "session": session_document(session)}
    return mailbox.answer(command.ticket, 201, body, now)


def check_opening_ack(
    mailbox: MailboxActor, message: Message, command: RecordAck, now: datetime
) -> Reply | Forward | None:
    """Every check of an ACK of a session's opening, before anything is recorded (§4.4).

    Without the lent session the ACK goes on to its session actor (``Forward``). With
    it: an expired opening fails its pending session instead (that answer is the
    reply); then the lease, the transition, and the session still pending are checked.

    Raises:
        LeaseExpired, DeliveryNotDelivered, InvalidAckTransition, TerminalAckStatus.
    """
    session = command.session
    if session is None:
        if message.opens_session:
            assert message.session_id is not None
            return Forward(AckOpening(message.session_id, command))
        return None
    if session.status == "pending" and message.expires_at <= now:
        return _expired(mailbox, message, session, now)
    message.check_ackable(command.delivery_id, now)
    message.check_ack_transition(command.status)
    session.check_pending()
    return None


async def expire_opening(mailbox: MailboxActor, command: ExpireOpening, now: datetime) -> Reply:
    """The session's own timer: its opening expired unanswered."""
    message = await mailbox.load(command.session.opening_message_id)
    _fail_expired(mailbox, message, command.session, now)
    return Reply(200, {})


def _expired(mailbox: MailboxActor, message: Message, session: Session, now: datetime) -> Reply:
    """An answer came too late: fail the session (committed), answering 409 (§4.4)."""
    _fail_expired(mailbox, message, session, now)
    return Reply(MessageExpired.status, MessageExpired().envelope())  # not stored: an error


def _fail_expired(mailbox: MailboxActor, message: Message, session: Session, now: datetime) -> None:
    """Expire the opening and fail the session, in one commit."""
    message.expire_opening(now)
    session.expire(now)
    mailbox.webhooks.end(message, "message_expired", now)
    mailbox.stage(message, session)
    mailbox.close(message)


def first_outstanding(mailbox: MailboxActor, now: datetime) -> dict[str, str]:
    """Per session, the id of its first message here that is still outstanding."""
    first: dict[str, str] = {}
    window = mailbox.window
    for message in [*window.open.values(), *window.overflow.values()]:
        sid = message.session_id
        if sid is not None and sid not in first and message.outstanding(now):
            first[sid] = message.message_id
    return first


def in_order(message: Message, first: dict[str, str]) -> bool:
    """Whether ``message`` may be handed out now, given ``first_outstanding``."""
    return message.session_id is None or first.get(message.session_id) == message.message_id

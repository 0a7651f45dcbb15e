"""SessionTurns: what a mailbox does for sessions. Answer an opening, expire one, keep
turns in order.

The session actor lends its ``Session`` for the opening's commands (see
``SessionActor``), so the answer and the session's new status commit together with
the opening message's ACK or expiry. Ordering (contract §6.4) is the mailbox's own: a
session message is handed out, by a claim or a webhook, only when no earlier message
of its session in this mailbox is still outstanding.

Each step changes the message and the session and returns them with the reply
(``Settled``); the mailbox stages them and stores the reply under the command's key.
Closing the message in the window and ending its webhook work happen here, on the
mailbox's collaborators, not through the mailbox.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import attrs
from eventsourcing.domain import Aggregate

from atp.actors.commands import AckOpening, Forward, RecordAck
from atp.actors.mailbox._webhook_queue import WebhookQueue
from atp.actors.mailbox._window import MailboxWindow
from atp.domain import AckStatus, Message, Session, new_id
from atp.errors import DeliveryInProgress, MessageExpired
from atp.wire import ack_document, session_document

__all__ = ["SessionTurns", "Settled"]

_ANSWER_LEASE = 60  # seconds, the lease of a delivery created to carry an answer (§1.12)


@attrs.frozen
class Settled:
    """What a session step changed, and its reply (``kept``: stored under the command's
    idempotency key; an error or a timer's reply is not)."""

    changed: tuple[Aggregate, ...]
    status: int
    body: dict[str, Any]
    kept: bool


class SessionTurns:
    """The session rules of one recipient's mailbox."""

    def __init__(self, window: MailboxWindow, webhooks: WebhookQueue) -> None:
        self._window = window
        self._webhooks = webhooks

    def answer(
        self, message: Message, session: Session, status: AckStatus, payload: Any, now: datetime
    ) -> Settled:
        """Accept or reject a pending session through an ACK of its opening ``message``.

        Raises:
            DeliveryInProgress: a webhook attempt holds the opening.
            InvalidAckTransition, TerminalAckStatus.
        """
        if message.expires_at <= now:
            return self._expired(message, session, now)
        message.check_ack_transition(status)  # before anything is recorded
        delivery = message.ackable_delivery(now)
        if delivery is None:
            if message.active_lease(now) is not None:
                raise DeliveryInProgress()
            delivery = message.lease(new_id("dlv"), _ANSWER_LEASE, now)
            self._window.leased(message, delivery.id)
        ack = message.ack(new_id("ack"), delivery.id, status, payload, now)
        session.answer(status, now)
        self._webhooks.end(message, "message_acked", now)
        self._window.close(message)
        body = {**ack_document(message, ack), "session": session_document(session)}
        return Settled((message, session), 201, body, kept=True)

    def check_ack(
        self, message: Message, command: RecordAck, now: datetime
    ) -> Forward | Settled | None:
        """Every check of an ACK of a session's opening, before anything is recorded (§4.4).

        Without the lent session the ACK goes on to its session actor (``Forward``). With
        it: an expired opening fails its pending session instead (``Settled``); then the
        lease, the transition, and the session still pending are checked. None: the ACK
        may be recorded.

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
            return self._expired(message, session, now)
        message.check_ackable(command.delivery_id, now)
        message.check_ack_transition(command.status)
        session.check_pending()
        return None

    def expire(self, message: Message, session: Session, now: datetime) -> Settled:
        """The session's own timer: its opening expired unanswered."""
        return Settled(self._fail_expired(message, session, now), 200, {}, kept=False)

    def first_outstanding(self, now: datetime) -> dict[str, str]:
        """Per session, the id of its first message here that is still outstanding."""
        first: dict[str, str] = {}
        for message in [*self._window.open.values(), *self._window.overflow.values()]:
            sid = message.session_id
            if sid is not None and sid not in first and message.outstanding(now):
                first[sid] = message.message_id
        return first

    @staticmethod
    def in_order(message: Message, first: dict[str, str]) -> bool:
        """Whether ``message`` may be handed out now, given ``first_outstanding``."""
        return message.session_id is None or first.get(message.session_id) == message.message_id

    def _expired(self, message: Message, session: Session, now: datetime) -> Settled:
        """An answer came too late: fail the session (committed), answering 409 (§4.4)."""
        changed = self._fail_expired(message, session, now)
        return Settled(changed, MessageExpired.status, MessageExpired().envelope(), kept=False)

    def _fail_expired(
        self, message: Message, session: Session, now: datetime
    ) -> tuple[Aggregate, ...]:
        """Expire the opening and fail the session, in one commit."""
        message.expire_opening(now)
        session.expire(now)
        self._webhooks.end(message, "message_expired", now)
        self._window.close(message)
        return (message, session)

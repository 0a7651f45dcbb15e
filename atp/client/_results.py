"""What the carrier answers, as small typed objects built from the contract's JSON.

Every result a call returns also keeps the answer it was read from, as ``document``
(out of ``repr`` and of comparisons): the typed fields are for programs, the document
is the API's own names and shape, which ``atp --json`` prints (less its secrets).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import attrs

__all__ = [
    "Ack",
    "AmtpSent",
    "Answer",
    "Claim",
    "DeadLetter",
    "DeadLetterPage",
    "Health",
    "Message",
    "MessageStatus",
    "Readiness",
    "Recipients",
    "Sent",
    "Session",
    "SessionPage",
    "SessionView",
    "Workflow",
    "sent",
    "when",
]


def when(text: str | None) -> datetime | None:
    """A wire timestamp as a datetime (None stays None)."""
    return None if text is None else datetime.fromisoformat(text)


@attrs.frozen
class Answer:
    """A call's result: ``document`` is the JSON answer as the carrier sent it."""

    document: dict[str, Any] = attrs.field(factory=dict, repr=False, eq=False, kw_only=True)


@attrs.frozen
class Health(Answer):
    """``GET /health``: the process answers."""

    status: str

    @classmethod
    def of(cls, data: dict[str, Any]) -> Health:
        return cls(data["status"], document=data)


@attrs.frozen
class Readiness(Answer):
    """``GET /ready``: each check (``database``, ...) reads ``ok``, ``error`` or ``disabled``."""

    status: str
    checks: dict[str, str]

    @property
    def ready(self) -> bool:
        return self.status == "ok"

    @classmethod
    def of(cls, data: dict[str, Any]) -> Readiness:
        return cls(data["status"], dict(data.get("checks", {})), document=data)


@attrs.frozen
class Message:
    """The message envelope: who, to whom, the A2A payload, and its session place."""

    id: str
    sender: str
    recipient: str
    trust: str
    payload: Any
    created_at: datetime | None
    expires_at: datetime | None
    session_id: str | None = None
    session_sequence: int | None = None

    @classmethod
    def of(cls, data: dict[str, Any]) -> Message:
        return cls(
            data["id"],
            data["from"],
            data["to"],
            data["trust"],
            data["payload"],
            when(data["created_at"]),
            when(data["expires_at"]),
            data.get("session_id"),
            data.get("session_sequence"),
        )


@attrs.frozen
class Ack:
    """An ACK the recipient recorded for a delivery."""

    id: str
    message_id: str
    delivery_id: str
    status: str
    payload: Any
    created_at: datetime | None

    @classmethod
    def of(cls, data: dict[str, Any]) -> Ack:
        return cls(
            data["id"],
            data["message_id"],
            data["delivery_id"],
            data["status"],
            data.get("payload"),
            when(data.get("created_at")),
        )


@attrs.frozen
class MessageStatus(Answer):
    """A message and what happened to it; ``deliveries`` stay as the contract's dicts.

    ``ack`` is the ACK just recorded, in the answer to an ACK; None elsewhere.
    """

    message: Message
    carrier_status: str
    ack_status: str | None
    terminal_at: datetime | None
    deliveries: tuple[dict[str, Any], ...]
    ack: Ack | None = None

    @classmethod
    def of(cls, data: dict[str, Any]) -> MessageStatus:
        return cls(
            Message.of(data["message"]),
            data["carrier_status"],
            data["ack_status"],
            when(data["terminal_at"]),
            tuple(data["deliveries"]),
            document=data,
        )

    @classmethod
    def of_ack(cls, data: dict[str, Any]) -> MessageStatus:
        """The status inside an ACK's answer, with the ACK (``document``: the whole answer)."""
        status = cls.of(data["message_status"])
        return attrs.evolve(status, ack=Ack.of(data["ack"]), document=data)


@attrs.frozen
class AmtpSent(Answer):
    """A send to another domain's address, or to many: an AMTP message, and where each
    recipient stands at first (``queued``, or ``failed`` with its error)."""

    message_id: str
    recipients: tuple[dict[str, Any], ...]

    @classmethod
    def of(cls, data: dict[str, Any]) -> AmtpSent:
        return cls(data["message_id"], tuple(data["recipients"]), document=data)


Sent = MessageStatus | AmtpSent  # what a send answers
Recipients = str | Sequence[str]  # whom a send names: one address, or many


def sent(data: dict[str, Any]) -> Sent:
    """A send's answer: a message's status, or (to another domain, or many) AMTP's."""
    return MessageStatus.of(data) if "message" in data else AmtpSent.of(data)


@attrs.frozen
class Claim(Answer):
    """A message handed out under a lease until ``leased_until`` (a claim or an extend)."""

    delivery_id: str
    leased_until: datetime | None
    message: Message

    @classmethod
    def of(cls, data: dict[str, Any]) -> Claim:
        return cls(
            data["id"], when(data["leased_until"]), Message.of(data["message"]), document=data
        )

    @classmethod
    def of_optional(cls, data: dict[str, Any]) -> Claim | None:
        """None for ``{"delivery": null}``: nothing to claim."""
        if "delivery" in data and data["delivery"] is None:
            return None
        return cls.of(data)

    @classmethod
    def all_of(cls, data: dict[str, Any]) -> tuple[Claim, ...]:
        """The claims of ``{"deliveries": [...]}`` (a claim with ``max``)."""
        return tuple(cls.of(claim) for claim in data["deliveries"])


@attrs.frozen
class DeadLetter:
    """A message whose webhook delivery failed for good, parked for its recipient."""

    dead_lettered_at: datetime | None
    message_status: MessageStatus

    @classmethod
    def of(cls, data: dict[str, Any]) -> DeadLetter:
        return cls(when(data["dead_lettered_at"]), MessageStatus.of(data["message_status"]))


@attrs.frozen
class DeadLetterPage(Answer):
    """One page of dead letters, oldest first; ``next_after`` continues (None: the end)."""

    dead_letters: tuple[DeadLetter, ...]
    next_after: str | None

    @classmethod
    def of(cls, data: dict[str, Any]) -> DeadLetterPage:
        letters = tuple(DeadLetter.of(letter) for letter in data["dead_letters"])
        return cls(letters, data.get("next_after"), document=data)


@attrs.frozen
class Session:
    id: str
    status: str
    initiator: str
    recipient: str
    opening_message_id: str
    last_sequence: int
    opened_at: datetime | None
    terminal_at: datetime | None
    created_at: datetime | None = None

    @classmethod
    def of(cls, data: dict[str, Any]) -> Session:
        return cls(
            data["id"],
            data["status"],
            data["initiator"],
            data["recipient"],
            data["opening_message_id"],
            data["last_sequence"],
            when(data["opened_at"]),
            when(data["terminal_at"]),
            when(data.get("created_at")),
        )


@attrs.frozen
class SessionView(Answer):
    """A session as an answer shows it: with the message just sent, or its transcript.

    An accept or reject answers with the opening's status and the ACK it recorded. A
    transcript read with ``limit`` has ``next_after_sequence`` (None: nothing after).
    """

    session: Session
    message_status: MessageStatus | None = None
    messages: tuple[MessageStatus, ...] = ()
    next_after_sequence: int | None = None

    @classmethod
    def of(cls, data: dict[str, Any]) -> SessionView:
        status = data.get("message_status")
        if status is not None:
            status = MessageStatus.of_ack(data) if "ack" in data else MessageStatus.of(status)
        messages = tuple(MessageStatus.of(m) for m in data.get("messages", ()))
        return cls(
            Session.of(data["session"]),
            status,
            messages,
            data.get("next_after_sequence"),
            document=data,
        )


@attrs.frozen
class SessionPage(Answer):
    """One page of an agent's sessions, oldest first; ``next_after`` continues."""

    sessions: tuple[Session, ...]
    next_after: str | None

    @classmethod
    def of(cls, data: dict[str, Any]) -> SessionPage:
        sessions = tuple(Session.of(session) for session in data["sessions"])
        return cls(sessions, data.get("next_after"), document=data)


@attrs.frozen
class Workflow(Answer):
    """An AMTP workflow the caller started: its kind, where it stands, and each
    participant's status (``document`` has their answers)."""

    workflow_id: str
    type: str  # parallel, sequential, conditional
    status: str  # in_progress, completed, failed, timeout
    participants: tuple[tuple[str, str], ...]  # (address, status)
    deadline: datetime | None

    @classmethod
    def of(cls, data: dict[str, Any]) -> Workflow:
        shown = tuple((p["address"], p["status"]) for p in data["participants"])
        return cls(
            data["workflow_id"],
            data["type"],
            data["status"],
            shown,
            when(data["deadline"]),
            document=data,
        )

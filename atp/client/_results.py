"""What the carrier answers, as small typed objects built from the contract's JSON."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import attrs

__all__ = [
    "AccountCreated",
    "Ack",
    "AgentCreated",
    "Claim",
    "Message",
    "MessageStatus",
    "Session",
    "SessionView",
]


def _when(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


@attrs.frozen
class AccountCreated:
    id: str
    name: str
    plan: str
    key_id: str
    api_key: str = attrs.field(repr=False)  # shown once; keep it secret

    @classmethod
    def of(cls, data: dict[str, Any]) -> AccountCreated:
        key = data["account_api_key"]
        return cls(data["id"], data["name"], data["plan"], key["id"], key["token"])


@attrs.frozen
class AgentCreated:
    id: str
    address: str
    key_id: str
    api_key: str = attrs.field(repr=False)  # shown once; keep it secret

    @classmethod
    def of(cls, data: dict[str, Any]) -> AgentCreated:
        key = data["agent_api_key"]
        return cls(data["id"], data["address"], key["id"], key["token"])


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
            data["id"], data["from"], data["to"], data["trust"], data["payload"],
            _when(data["created_at"]), _when(data["expires_at"]),
            data.get("session_id"), data.get("session_sequence"),
        )  # fmt: skip


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
            data["id"], data["message_id"], data["delivery_id"], data["status"],
            data.get("payload"), _when(data.get("created_at")),
        )  # fmt: skip


@attrs.frozen
class MessageStatus:
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
            Message.of(data["message"]), data["carrier_status"], data["ack_status"],
            _when(data["terminal_at"]), tuple(data["deliveries"]),
        )  # fmt: skip

    @classmethod
    def of_ack(cls, data: dict[str, Any]) -> MessageStatus:
        """The status inside an ACK's answer, with the ACK."""
        return attrs.evolve(cls.of(data["message_status"]), ack=Ack.of(data["ack"]))


@attrs.frozen
class Claim:
    """A message handed out by an inbox claim, under a lease until ``leased_until``."""

    delivery_id: str
    leased_until: datetime | None
    message: Message

    @classmethod
    def of_optional(cls, data: dict[str, Any]) -> Claim | None:
        """None for ``{"delivery": null}``: nothing to claim."""
        if "delivery" in data and data["delivery"] is None:
            return None
        return cls(data["id"], _when(data["leased_until"]), Message.of(data["message"]))


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

    @classmethod
    def of(cls, data: dict[str, Any]) -> Session:
        return cls(
            data["id"], data["status"], data["initiator"], data["recipient"],
            data["opening_message_id"], data["last_sequence"], _when(data["opened_at"]),
            _when(data["terminal_at"]),
        )  # fmt: skip


@attrs.frozen
class SessionView:
    """A session as an answer shows it: with the message just sent, or its transcript.

    An accept or reject answers with the opening's status and the ACK it recorded.
    """

    session: Session
    message_status: MessageStatus | None = None
    messages: tuple[MessageStatus, ...] = ()

    @classmethod
    def of(cls, data: dict[str, Any]) -> SessionView:
        status = data.get("message_status")
        if status is not None:
            status = MessageStatus.of_ack(data) if "ack" in data else MessageStatus.of(status)
        messages = tuple(MessageStatus.of(m) for m in data.get("messages", ()))
        return cls(Session.of(data["session"]), status, messages)

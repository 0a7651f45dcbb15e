"""The audit trail's answers: events, histories and auditor keys (docs/audit.md)."""

from __future__ import annotations

from typing import Any

import attrs

from atp.client._results import Answer

__all__ = ["AuditEvent", "AuditorKey", "EventPage", "HistoryEntry", "MessageHistory"]


@attrs.frozen
class AuditEvent:
    """One audit record: ``record`` hashes (RFC 8785, 0x00 before it) to ``leaf_hash``,
    and ``index`` is what its inclusion proof asks for."""

    index: int
    record: dict[str, Any]
    leaf_hash: str

    @property
    def type(self) -> str:
        kind: str = self.record["type"]
        return kind

    @classmethod
    def of(cls, data: dict[str, Any]) -> AuditEvent:
        return cls(data["index"], data["record"], data["leaf_hash"])


@attrs.frozen
class EventPage(Answer):
    """A page of events; ``next`` continues it (None: nothing more for now)."""

    events: tuple[AuditEvent, ...]
    next: str | None

    @classmethod
    def of(cls, data: dict[str, Any]) -> EventPage:
        events = tuple(AuditEvent.of(e) for e in data["events"])
        return cls(events, data.get("next"), document=data)


@attrs.frozen
class HistoryEntry:
    event: AuditEvent
    description: str


@attrs.frozen
class MessageHistory(Answer):
    """Every record of a message, in order, each with a line a person can read."""

    message_id: str
    history: tuple[HistoryEntry, ...]

    @classmethod
    def of(cls, data: dict[str, Any]) -> MessageHistory:
        entries = tuple(HistoryEntry(AuditEvent.of(h), h["description"]) for h in data["history"])
        return cls(data["message_id"], entries, document=data)


@attrs.frozen
class AuditorKey(Answer):
    """A read-only key of an account's audit trail. ``token`` is a secret."""

    id: str
    token: str = attrs.field(repr=False)
    role: str = "auditor"

    @classmethod
    def of(cls, data: dict[str, Any]) -> AuditorKey:
        return cls(data["id"], data["token"], data.get("role", "auditor"), document=data)

"""A replay's answer: what it selected, where it hands the messages, and how far it is."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import attrs

from atp.client._results import Answer, when

__all__ = ["Replay", "ReplayFilter"]


@attrs.frozen
class ReplayFilter:
    """What a replay selected from the recipient's messages; None where not given."""

    since: datetime | None = None
    until: datetime | None = None
    status: tuple[str, ...] | None = None
    sender: str | None = None
    session: str | None = None

    @classmethod
    def of(cls, data: dict[str, Any] | None) -> ReplayFilter:
        data = data or {}
        status = data.get("status")
        return cls(
            when(data.get("since")),
            when(data.get("until")),
            None if status is None else tuple(status),
            data.get("sender"),
            data.get("session"),
        )


@attrs.frozen
class Replay(Answer):
    """A replay run: ``done`` counts every message handled (``delivered + failed +
    skipped``), so it equals ``total`` once the replay has completed.
    ``rate_per_second`` is None for a one-message replay."""

    id: str
    name: str | None
    agent_id: str
    target: str
    filter: ReplayFilter
    rate_per_second: float | None
    state: str  # running, completed or cancelled
    total: int
    done: int
    delivered: int
    failed: int
    skipped: int
    created_at: datetime | None
    finished_at: datetime | None

    @property
    def running(self) -> bool:
        return self.state == "running"

    @classmethod
    def of(cls, data: dict[str, Any]) -> Replay:
        """Read ``{"replay": {...}}``, the answer of every replay route."""
        replay = data["replay"]
        return cls(
            replay["id"],
            replay.get("name"),
            replay["agent_id"],
            replay["target"],
            ReplayFilter.of(replay.get("filter")),
            replay.get("rate_per_second"),
            replay["state"],
            replay["total"],
            replay["done"],
            replay["delivered"],
            replay["failed"],
            replay["skipped"],
            when(replay.get("created_at")),
            when(replay.get("finished_at")),
            document=data,
        )

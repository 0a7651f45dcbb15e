"""The View seam: what every read model promises."""

from __future__ import annotations

from typing import Any

from eventsourcing.domain import CanMutateAggregate, DomainEventProtocol

from projections._store import Cursor

__all__ = ["View", "event_classes"]


class View:
    """A read model folded from the ledger's events.

    Obligations: ``apply`` and ``flush`` only write through the given cursor (so the
    rows and the tracking position commit together, exactly once); ``apply`` may keep
    rows back until ``flush``, which the runner calls once per page; it ignores events
    it does not know; applying the whole log from zero gives the same rows as applying
    it live.
    """

    name: str
    tables: tuple[str, ...]
    # The aggregates whose events this view folds; the runner reads only their events.
    aggregates: tuple[type, ...]

    def apply(self, cur: Cursor, position: int, event: DomainEventProtocol[Any]) -> None:
        """Fold one event (at notification id ``position``) into the view's rows."""
        raise NotImplementedError

    def flush(self, cur: Cursor) -> None:
        """Write what ``apply`` kept back for the end of the page (same transaction)."""

    def reset(self) -> None:
        """Forget in-memory state (before a rebuild, after a failed page)."""


def event_classes(aggregates: tuple[type, ...]) -> frozenset[type]:
    """Every event class declared on these aggregates."""
    return frozenset(
        value
        for aggregate in aggregates
        for value in vars(aggregate).values()
        if isinstance(value, type) and issubclass(value, CanMutateAggregate)
    )

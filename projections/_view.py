"""The View seam: what every read model promises."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from eventsourcing.domain import CanMutateAggregate, DomainEventProtocol

from atp.ledger import Notification

__all__ = ["Statements", "View", "Writer", "event_classes"]


class Writer(Protocol):
    """Where a view puts the SQL a page of events makes (``?`` placeholders)."""

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None: ...


class Statements:
    """A :class:`Writer` that keeps the statements, to run later in one transaction."""

    def __init__(self) -> None:
        self.statements: list[tuple[str, Sequence[Any]]] = []

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        self.statements.append((sql, params))


class View:
    """A read model folded from the ledger's events.

    Obligations: ``apply`` and ``flush`` only write, through the given writer, and
    never read the database (a row they depend on is found by the SQL itself, in a
    subquery): so a page is folded on the Trio thread and its statements, with the
    tracking position, run in one transaction in a worker thread, exactly once.
    ``apply`` may keep rows back until ``flush``, which the runner calls once per page;
    it ignores events it does not know; applying the whole log from zero gives the same
    rows as applying it live. Whatever ``apply`` needs from the ledger, ``prepare``
    loads first.
    """

    name: str
    tables: tuple[str, ...]
    # The aggregates whose events this view folds; the runner reads only their events.
    aggregates: tuple[type, ...]

    async def prepare(self, batch: Sequence[Notification]) -> None:
        """Load from the ledger what applying ``batch`` will need (the page's one await)."""

    def apply(self, out: Writer, position: int, event: DomainEventProtocol[Any]) -> None:
        """Fold one event (at notification id ``position``) into the view's rows."""
        raise NotImplementedError

    def flush(self, out: Writer) -> None:
        """Write what ``apply`` kept back for the end of the page (same transaction)."""

    def written(self) -> None:
        """Called once a page's statements are committed (what ``apply`` counted is now
        true; a page that failed is ``reset`` instead)."""

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

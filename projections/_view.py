"""The View seam: what every read model promises."""

from __future__ import annotations

from typing import Any

from eventsourcing.domain import DomainEventProtocol

from projections._store import Cursor

__all__ = ["View"]


class View:
    """A read model folded from the ledger's events.

    Obligations: ``apply`` only writes through the given cursor (so the rows and the
    tracking position commit together, exactly once); it ignores events it does not
    know; applying the whole log from zero gives the same rows as applying it live.
    """

    name: str
    tables: tuple[str, ...]

    def apply(self, cur: Cursor, position: int, event: DomainEventProtocol[Any]) -> None:
        """Fold one event (at notification id ``position``) into the view's rows."""
        raise NotImplementedError

    def reset(self) -> None:
        """Forget in-memory state (before a rebuild)."""

"""Liveness: when each agent was last seen, and whether it is reachable now.

An agent is seen when it claims (a long poll is seen when it starts and when it ends),
holds an inbox stream open, ACKs, or answers a push with a 2xx. It is reachable while
it waits on a long poll or a stream, when it was seen within the window
(``ATP_REACHABLE_WINDOW``), or when it has an active webhook endpoint: so a sender can
tell "queued, recipient polling" from "queued, recipient not seen for three days".

The times live here and are written to the views' store every few seconds (``run``),
so a restart keeps them; what the last seconds before a crash saw is lost, which only
makes an agent look seen a little earlier than it was.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Protocol

import attrs
import trio

from atp.observe import describe_exception

__all__ = ["Liveness", "LivenessStatistics"]

log = logging.getLogger(__name__)

_SAVE_EVERY = 5.0  # seconds


class _Store(Protocol):
    async def load(self) -> dict[str, datetime]: ...

    async def save(self, seen: Sequence[tuple[str, datetime]]) -> None: ...


@attrs.frozen
class LivenessStatistics:
    """Agents seen within the window or waiting now, and those waiting now."""

    reachable: int
    waiting: int


class Liveness:
    """Last-seen times and open waits, per agent."""

    def __init__(
        self, window: float = 300.0, now: Callable[[], datetime] = lambda: datetime.now(UTC)
    ) -> None:
        self.window = timedelta(seconds=window)
        self._now = now
        self._seen: dict[str, datetime] = {}
        self._waiting: Counter[str] = Counter()
        self._unsaved: set[str] = set()
        self._changed = trio.Event()  # set while something is unsaved

    def seen(self, agent_id: str) -> None:
        self._seen[agent_id] = self._now()
        self._unsaved.add(agent_id)
        self._changed.set()

    @contextmanager
    def waiting(self, agent_id: str) -> Iterator[None]:
        """A long poll or a stream: seen, and reachable for as long as it lasts."""
        self.seen(agent_id)
        self._waiting[agent_id] += 1
        try:
            yield
        finally:
            self._waiting[agent_id] -= 1
            if not self._waiting[agent_id]:
                del self._waiting[agent_id]
            self.seen(agent_id)

    def last_seen(self, agent_id: str) -> datetime | None:
        return self._seen.get(agent_id)

    def reachable(self, agent_id: str, webhook_active: bool) -> bool:
        if webhook_active or agent_id in self._waiting:
            return True
        at = self._seen.get(agent_id)
        return at is not None and self._now() - at <= self.window

    def statistics(self) -> LivenessStatistics:
        since = self._now() - self.window
        recent = {a for a, at in self._seen.items() if at >= since}
        return LivenessStatistics(len(recent | set(self._waiting)), len(self._waiting))

    async def run(
        self, store: _Store, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """Read the saved times, then save what changed, a few seconds after a change (no
        timer runs while nothing changes), and once more when cancelled (the carrier
        stops)."""
        try:
            for agent_id, at in (await store.load()).items():
                self._seen.setdefault(agent_id, at)
        except Exception as exc:  # the store is away, say: start without them
            log.warning("agents' last-seen times not read (%s)", describe_exception(exc))
        task_status.started()
        try:
            while True:
                await self._changed.wait()
                await trio.sleep(_SAVE_EVERY)
                self._changed = trio.Event()
                await self._save(store)
        finally:
            with trio.CancelScope(shield=True), trio.move_on_after(_SAVE_EVERY):
                await self._save(store)

    async def _save(self, store: _Store) -> None:
        unsaved, self._unsaved = self._unsaved, set()
        if not unsaved:
            return
        try:
            await store.save([(a, self._seen[a]) for a in sorted(unsaved)])
        except Exception as exc:
            self._unsaved |= unsaved  # the next turn tries again
            self._changed.set()
            log.warning("agents' last-seen times not saved (%s)", describe_exception(exc))

"""The supervisor: owns every actor's task; restarts crashed ones, forgets idle ones.

Like OTP's one_for_one: a crash stays inside its actor. The supervisor logs it,
counts it, waits a backoff that doubles with each consecutive crash, and runs the
same actor again, which rehydrates from the ledger; commands queued meanwhile are
kept. An actor that returns (idle) is removed, and the next command starts a fresh
one. No exception from an actor ever reaches the nursery, the server or a sibling.

An actor that crashed because the store is away is not broken: its commands are
answered 503 at once, and it restarts when the store is back (the store's record logs
the outage once; a line per actor would flood the log).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

import attrs
import trio

from atp.actors._actor import Actor
from atp.errors import StoreUnavailable
from atp.ledger import StoreAvailability
from atp.observe import REQUEST_ID, describe_exception

__all__ = ["Supervisor", "SupervisorStatistics"]

log = logging.getLogger(__name__)
A = TypeVar("A", bound=Actor[Any])

_FIRST_BACKOFF = 0.01
_MAX_BACKOFF = 5.0
_STABLE_AFTER = 10.0
_MAX_STORE_BACKOFF = 1.0  # a store that is back must not wait on a long backoff


@attrs.frozen
class SupervisorStatistics:
    """Actors running now (by kind: ``mailbox``, ``account``, ``session``), started,
    restarted after a crash and stopped idle since start; commands waiting in them."""

    running: int
    started: int
    restarts: int
    stopped_idle: int
    running_by_kind: tuple[tuple[str, int], ...]
    queued: int


class Supervisor:
    """Starts actors on first use and keeps them running while they are needed."""

    def __init__(self, idle_timeout: float, store: StoreAvailability | None = None) -> None:
        self.idle_timeout = idle_timeout
        self.store = store
        self._actors: dict[str, Actor[Any]] = {}
        self._nursery: trio.Nursery | None = None
        self._started = 0
        self._restarts = 0
        self._stopped_idle = 0

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Own the actors' nursery until cancelled."""
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            task_status.started()
            try:
                await trio.sleep_forever()
            finally:
                self._nursery = None

    def actor(self, cls: type[A], owner_id: str, factory: Callable[[], A]) -> A:
        """The running ``cls`` actor of ``owner_id``, started with ``factory()`` if there
        is none."""
        key = cls.key_of(owner_id)
        actor = self._actors.get(key)
        if actor is None:
            if self._nursery is None:
                raise RuntimeError("supervisor is not running")
            actor = factory()
            self._actors[key] = actor
            self._started += 1
            self._nursery.start_soon(self._supervise, actor, name=f"actor {key}")
        assert isinstance(actor, cls)
        return actor

    @property
    def is_running(self) -> bool:
        """Whether the supervisor can start actors (its nursery is open)."""
        return self._nursery is not None

    def running(self, cls: type[A], owner_id: str) -> A | None:
        """The ``cls`` actor of ``owner_id`` if it is running now (never starts one)."""
        actor = self._actors.get(cls.key_of(owner_id))
        assert actor is None or isinstance(actor, cls)
        return actor

    async def _supervise(self, actor: Actor[Any]) -> None:
        # Started on behalf of a request, the task copied its context: the actor serves
        # many requests, and says whose it handles (Actor._run), so it has none itself.
        REQUEST_ID.set(None)
        crashes = 0
        try:
            while True:
                started = trio.current_time()
                try:
                    await actor.run(self.idle_timeout)
                except Exception as exc:
                    if trio.current_time() - started > _STABLE_AFTER:
                        crashes = 0  # it ran well for a while: start the backoff over
                    crashes += 1
                    self._restarts += 1
                    backoff = min(_FIRST_BACKOFF * 2 ** (crashes - 1), _MAX_BACKOFF)
                    if isinstance(exc, StoreUnavailable):
                        await self._wait_for_store(actor, min(backoff, _MAX_STORE_BACKOFF))
                        continue
                    # Class and place only: an exception's text may carry payloads or secrets.
                    log.warning(
                        "actor %s crashed (%s); restart %d in %.2fs",
                        actor.key,
                        describe_exception(exc),
                        crashes,
                        backoff,
                    )
                    await trio.sleep(backoff)
                    continue
                self._stopped_idle += 1
                return
        finally:
            if self._actors.get(actor.key) is actor:
                del self._actors[actor.key]
            # Stopped with the carrier: what still waits will never be taken, and its
            # askers, stopping too, would wait out their bound (Actor.ask) for nothing.
            actor.fail_queued(StoreUnavailable("the carrier is stopping"))

    async def _wait_for_store(self, actor: Actor[Any], backoff: float) -> None:
        """Answer what waits for ``actor`` with 503, and wait until it may run again."""
        log.debug("actor %s waits for the store; restart in %.2fs", actor.key, backoff)
        actor.fail_queued(StoreUnavailable("the store is away"))
        await trio.sleep(backoff)
        if self.store is not None and self.store.away:
            actor.fail_queued(StoreUnavailable("the store is away"))  # none join while away
            await self.store.wait_available()

    def statistics(self) -> SupervisorStatistics:
        """Counters for /metrics and tests (one pass over the running actors)."""
        kinds: dict[str, int] = {}
        queued = 0
        for key, actor in self._actors.items():
            kind = key.partition(":")[0]
            kinds[kind] = kinds.get(kind, 0) + 1
            queued += actor.queued
        return SupervisorStatistics(
            len(self._actors),
            self._started,
            self._restarts,
            self._stopped_idle,
            tuple(sorted(kinds.items())),
            queued,
        )

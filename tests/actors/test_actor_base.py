"""The Actor base, driven through an ActorContext of fakes: batches, refusals, crashes,
idempotent replays, and the lone command that lets its commit prove its key is new."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import attrs
import pytest
import trio
from eventsourcing.domain import Aggregate

from atp.actors import Actor, ActorContext, IdempotencyGate, Ticket
from atp.actors.commands import Reply
from atp.domain import IdempotencyRecord
from atp.errors import AtpError, NotFound, UnexpectedError
from atp.ledger import LedgerConflict
from atp.sealing import Sealer

NOW = datetime(2026, 5, 27, 12, 0, tzinfo=UTC)


@attrs.define
class FakeLedger:
    """Committed idempotency records, as the ledger would return them."""

    records: dict[UUID, IdempotencyRecord] = attrs.Factory(dict)
    lookups: int = 0

    async def get_many(self, cls: type, ids: Sequence[UUID]) -> dict[UUID, Any]:
        self.lookups += 1
        return {i: self.records[i] for i in ids if i in self.records}


@attrs.define
class FakeJournal:
    """Commits what it is given, refusing a second version 1 of a record as the store does."""

    ledger: FakeLedger
    commits: list[list[Aggregate]] = attrs.Factory(list)

    async def commit(self, aggregates: Sequence[Aggregate]) -> int:
        records = [a for a in aggregates if isinstance(a, IdempotencyRecord)]
        if any(r.id in self.ledger.records for r in records):
            raise LedgerConflict()
        self.commits.append(list(aggregates))
        self.ledger.records.update((r.id, r) for r in records)
        return len(self.commits)


@attrs.frozen
class Add:
    amount: int
    ticket: Ticket


class Counter(Actor[Add]):
    """Adds; refuses a negative amount; crashes on zero. Lone commands skip the lookup."""

    kind = "counter"

    def __init__(self, context: ActorContext) -> None:
        super().__init__("1", context)
        self.total = 0
        self.committed_total = 0
        self.handled: list[int] = []
        self.rehydrations = 0

    async def rehydrate(self) -> None:
        self.rehydrations += 1
        self.total = self.committed_total

    def skips_lookup(self, command: Add) -> bool:
        return True

    async def handle(self, command: Add) -> Reply:
        self.handled.append(command.amount)
        if command.amount < 0:
            raise NotFound("amount")
        if command.amount == 0:
            raise RuntimeError("boom")
        self.total += command.amount
        return self.answer(command.ticket, 201, {"total": self.total}, NOW)

    def committed(self) -> None:
        self.committed_total = self.total


@attrs.define
class Carrier:
    context: ActorContext
    ledger: FakeLedger
    journal: FakeJournal


@pytest.fixture
def carrier() -> Carrier:
    ledger = FakeLedger()
    journal = FakeJournal(ledger)
    sealer = Sealer("test-key")
    context = ActorContext(
        settings=None,  # type: ignore[arg-type]
        journal=journal,  # type: ignore[arg-type]
        gate=IdempotencyGate(ledger, sealer),  # type: ignore[arg-type]
        identities=None,  # type: ignore[arg-type]
        ledger=ledger,  # type: ignore[arg-type]
        queries=None,  # type: ignore[arg-type]
        views=None,  # type: ignore[arg-type]
        sealer=sealer,
        pushes=None,  # type: ignore[arg-type]
        receipts=None,  # type: ignore[arg-type]
        routes=None,  # type: ignore[arg-type]
        now=lambda: NOW,
    )
    return Carrier(context, ledger, journal)


def ticket(key: str, amount: int) -> Ticket:
    return Ticket(f"acct|agent|agt_1|POST /add|{key}", f"hash-{amount}")


async def ask_all(actor: Counter, *commands: Add) -> list[Reply | AtpError]:
    """Queue every command, in order, before the actor runs, so they make one batch."""
    answers: list[Reply | AtpError] = [AtpError()] * len(commands)

    async def ask(i: int, command: Add) -> None:
        try:
            answer = await actor.ask(command)
            assert isinstance(answer, Reply)
            answers[i] = answer
        except AtpError as exc:
            answers[i] = exc

    async with trio.open_nursery() as nursery:
        for i, command in enumerate(commands):  # one at a time: they queue in this order
            nursery.start_soon(ask, i, command)
            await trio.testing.wait_all_tasks_blocked()
        nursery.start_soon(_run_once, actor)
    return answers


async def _run_once(actor: Counter) -> None:
    # A crash raises out of run(): the supervisor would restart the actor.
    with trio.move_on_after(1), contextlib.suppress(RuntimeError):
        await actor.run(idle_timeout=0.5)


async def test_queued_commands_are_one_batch_and_one_commit(
    carrier: Carrier, autojump_clock: Any
) -> None:
    actor = Counter(carrier.context)
    answers = await ask_all(actor, Add(1, ticket("a", 1)), Add(2, ticket("b", 2)))
    assert [a.body for a in answers if isinstance(a, Reply)] == [{"total": 1}, {"total": 3}]
    assert len(carrier.journal.commits) == 1
    assert actor.statistics().batches == 1


async def test_a_refused_command_changes_nothing_and_the_batch_goes_on(
    carrier: Carrier, autojump_clock: Any
) -> None:
    actor = Counter(carrier.context)
    answers = await ask_all(actor, Add(-1, ticket("a", -1)), Add(5, ticket("b", 5)))
    assert isinstance(answers[0], NotFound)
    assert isinstance(answers[1], Reply) and answers[1].body == {"total": 5}
    committed = carrier.journal.commits[0]
    assert [r.scope for r in committed if isinstance(r, IdempotencyRecord)] == [
        ticket("b", 5).scope
    ]


async def test_a_crash_answers_the_whole_batch_and_commits_nothing(
    carrier: Carrier, autojump_clock: Any
) -> None:
    actor = Counter(carrier.context)
    answers = await ask_all(actor, Add(3, ticket("a", 3)), Add(0, ticket("b", 0)))
    assert all(isinstance(a, UnexpectedError) for a in answers)
    assert carrier.journal.commits == []


async def test_an_answered_key_is_replayed_not_handled_again(
    carrier: Carrier, autojump_clock: Any
) -> None:
    actor = Counter(carrier.context)
    first = await ask_all(actor, Add(4, ticket("a", 4)), Add(1, ticket("b", 1)))
    handled = list(actor.handled)
    again = await ask_all(actor, Add(4, ticket("a", 4)), Add(6, ticket("c", 6)))
    assert isinstance(again[0], Reply) and isinstance(first[0], Reply)
    assert again[0].encoded == first[0].encoded  # the same bytes, from the record
    assert actor.handled == [*handled, 6]


async def test_a_lone_command_whose_commit_is_refused_is_looked_up_and_replayed(
    carrier: Carrier, autojump_clock: Any
) -> None:
    """Alone, a command skips its lookup; the store refusing its record's first version
    proves the key was answered: the actor rehydrates and answers the stored reply."""
    actor = Counter(carrier.context)
    [first] = await ask_all(actor, Add(7, ticket("a", 7)))
    lookups, rehydrations = carrier.ledger.lookups, actor.rehydrations
    assert lookups == 0  # it skipped the lookup
    fresh = Counter(carrier.context)  # a restarted actor: no memory of the key
    fresh.committed_total = 7
    [again] = await ask_all(fresh, Add(7, ticket("a", 7)))
    assert isinstance(again, Reply) and isinstance(first, Reply)
    assert json.loads(again.encoded or b"") == {"total": 7}
    assert fresh.total == 7  # the replayed command's change was undone by rehydrating
    assert carrier.ledger.lookups == 1 and fresh.rehydrations == 2
    assert actor.rehydrations == rehydrations

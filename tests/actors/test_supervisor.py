"""Supervision: crashes stay inside their actor, restarts back off, idle actors stop."""

from __future__ import annotations

import logging
from types import SimpleNamespace
from typing import Any

import pytest
import trio
import trio.testing

from atp.actors import Actor, Supervisor
from atp.actors.commands import Reply
from atp.errors import NotFound, StoreUnavailable, UnexpectedError
from atp.ledger import StoreAvailability
from atp.observe import REQUEST_ID
from tests.support.log_capture import captured_logs


class Echo(Actor[str]):
    """Answers a command with its text; "crash" raises; "refuse" is a refused command."""

    rehydrations = 0

    kind = "echo"

    def __init__(self, key: str) -> None:
        # Its commands carry no idempotency key: no gate or ledger is asked.
        super().__init__(key, context=SimpleNamespace(gate=None, ledger=None))  # type: ignore[arg-type]
        self.rehydrations = 0

    async def rehydrate(self) -> None:
        self.rehydrations += 1

    async def handle(self, command: str) -> Reply:
        if command == "crash":
            raise RuntimeError("boom")
        if command == "refuse":
            raise NotFound()
        if command == "slow":
            await trio.sleep(45)
        if command == "pause":
            await trio.sleep(5)
        return Reply(200, {"echo": command, "rehydrations": self.rehydrations})


def echo(supervisor: Supervisor, key: str) -> Echo:
    return supervisor.actor(Echo, key, lambda: Echo(key))


@pytest.fixture
async def supervisor(nursery: trio.Nursery) -> Supervisor:
    sup = Supervisor(idle_timeout=30.0)
    await nursery.start(sup.run)
    return sup


async def test_crash_answers_unexpected_and_restarts_with_rehydration(
    supervisor: Supervisor, autojump_clock: Any
) -> None:
    actor = echo(supervisor, "a")
    assert (await actor.ask("hi")).body == {"echo": "hi", "rehydrations": 1}
    with pytest.raises(UnexpectedError):
        await actor.ask("crash")
    reply = await echo(supervisor, "a").ask("again")
    assert reply.body == {"echo": "again", "rehydrations": 2}
    assert supervisor.statistics().restarts == 1


async def test_refusal_is_not_a_crash(supervisor: Supervisor) -> None:
    actor = echo(supervisor, "a")
    with pytest.raises(NotFound):
        await actor.ask("refuse")
    assert (await actor.ask("ok")).body["rehydrations"] == 1
    assert supervisor.statistics().restarts == 0


async def test_one_actor_crashing_never_reaches_another(
    supervisor: Supervisor, autojump_clock: Any
) -> None:
    calm, wild = echo(supervisor, "calm"), echo(supervisor, "wild")
    for _ in range(5):
        with pytest.raises(UnexpectedError):
            await wild.ask("crash")
        assert (await calm.ask("still here")).status == 200
    assert supervisor.statistics().restarts == 5
    assert supervisor.is_running


async def test_backoff_doubles_between_consecutive_crashes(
    supervisor: Supervisor, autojump_clock: Any
) -> None:
    actor = echo(supervisor, "a")
    await actor.ask("warm")
    gaps = []
    for _ in range(4):
        with pytest.raises(UnexpectedError):
            await actor.ask("crash")
        before = trio.current_time()
        await actor.ask("probe")
        gaps.append(round(trio.current_time() - before, 3))
    assert gaps == [0.01, 0.02, 0.04, 0.08]


async def test_idle_actor_stops_and_a_new_one_starts_on_demand(
    supervisor: Supervisor, autojump_clock: Any
) -> None:
    first = echo(supervisor, "a")
    await first.ask("hello")
    await trio.sleep(31)
    assert supervisor.running(Echo, "a") is None
    assert supervisor.statistics().stopped_idle == 1
    second = echo(supervisor, "a")
    assert second is not first
    assert (await second.ask("back")).body == {"echo": "back", "rehydrations": 1}


async def test_commands_queued_during_a_crash_are_served_after_restart(
    supervisor: Supervisor, autojump_clock: Any
) -> None:
    actor = echo(supervisor, "a")
    await actor.ask("warm")
    replies: list[Reply] = []

    async def ask(text: str) -> None:
        replies.append(await actor.ask(text))

    with pytest.raises(UnexpectedError):
        await actor.ask("crash")
    async with trio.open_nursery() as nursery:
        for n in range(3):
            nursery.start_soon(ask, f"q{n}")
    assert sorted(r.body["echo"] for r in replies) == ["q0", "q1", "q2"]
    assert {r.body["rehydrations"] for r in replies} == {2}


async def test_a_batch_longer_than_the_idle_timeout_is_not_a_crash(
    supervisor: Supervisor, autojump_clock: Any
) -> None:
    actor = echo(supervisor, "a")
    assert (await actor.ask("slow")).status == 200
    assert (await actor.ask("after")).body == {"echo": "after", "rehydrations": 1}
    assert supervisor.statistics().restarts == 0


async def test_a_cancelled_asker_waits_until_its_command_is_done(
    supervisor: Supervisor, autojump_clock: Any
) -> None:
    actor = echo(supervisor, "a")
    await actor.ask("warm")
    started = trio.current_time()
    with trio.move_on_after(1) as scope:
        await actor.ask("pause")
    # Cancelled after 1 s, it returned only when the 5 s command had finished (so the
    # caller's idempotency scope stays held exactly as long) ...
    assert scope.cancelled_caught
    assert trio.current_time() - started == pytest.approx(5)
    # ... but never longer than the 10 s bound, so a stalled store cannot stall shutdown.
    started = trio.current_time()
    with trio.move_on_after(1):
        await actor.ask("slow")
    assert trio.current_time() - started == pytest.approx(11)


class Talker(Echo):
    """An Echo that logs each command it handles."""

    async def handle(self, command: str) -> Reply:
        logging.getLogger("atp.tests.talker").info("handling %s", command)
        return await super().handle(command)


async def test_an_actor_logs_with_the_id_of_the_request_it_serves_not_of_its_starter(
    supervisor: Supervisor, autojump_clock: Any
) -> None:
    first, second = "first-request-id-000000000", "second-request-id-00000000"
    with captured_logs("info") as logs:
        token = REQUEST_ID.set(first)  # the actor's task is started by this request
        actor = supervisor.actor(Talker, "t", lambda: Talker("t"))
        await actor.ask("one")
        REQUEST_ID.reset(token)
        token = REQUEST_ID.set(second)
        with pytest.raises(UnexpectedError):
            await actor.ask("crash")
        REQUEST_ID.reset(token)
        await supervisor.actor(Talker, "t", lambda: Talker("t")).ask("three")  # no request
    records = logs.records()
    handled = [
        (r["message"], r.get("request_id")) for r in records if r["logger"].endswith("talker")
    ]
    assert handled == [
        ("handling one", first),
        ("handling crash", second),
        ("handling three", None),
    ]
    [crashed] = [r for r in records if "crashed" in r["message"]]
    assert "request_id" not in crashed  # a crash belongs to the actor, not to a request
    assert "RuntimeError at " in crashed["message"] and "boom" not in crashed["message"]


class StoreBound(Echo):
    """Rehydrates from a store that is away while ``down[0]``."""

    def __init__(self, key: str, down: list[bool]) -> None:
        super().__init__(key)
        self.down = down

    async def rehydrate(self) -> None:
        if self.down[0]:
            raise StoreUnavailable("the store is away")
        await super().rehydrate()


async def test_an_actor_without_its_store_answers_503_and_waits_for_the_store(
    nursery: trio.Nursery, autojump_clock: Any, caplog: pytest.LogCaptureFixture
) -> None:
    store = StoreAvailability()
    supervisor = Supervisor(idle_timeout=30.0, store=store)
    await nursery.start(supervisor.run)
    down = [True]
    actor = supervisor.actor(StoreBound, "a", lambda: StoreBound("a", down))
    # What waits for it is answered "try again later", not as a bug (500).
    with pytest.raises(StoreUnavailable), trio.fail_after(60):
        await actor.ask("hi")
    store.found_away(OSError("refused"))
    await trio.sleep(1)
    restarts = supervisor.statistics().restarts
    await trio.sleep(600)  # while the store is away the actor waits; it does not spin
    assert supervisor.statistics().restarts == restarts
    down[0] = False
    store.found_back()
    assert (await actor.ask("back")).body == {"echo": "back", "rehydrations": 1}
    assert not [r for r in caplog.records if r.name.startswith("atp.actors")]


async def test_commands_still_queued_when_the_supervisor_stops_are_answered_at_once(
    autojump_clock: Any,
) -> None:
    """A carrier stopping cancels its actors and their askers together: a command that
    waited behind a busy actor must not hold its asker for the asker's 10 s bound."""
    ended: dict[str, float] = {}

    async def ask(actor: Echo, command: str) -> None:
        try:
            await actor.ask(command)
        except StoreUnavailable:
            pass
        finally:
            ended[command] = trio.current_time()

    async with trio.open_nursery() as carrier:
        sup = Supervisor(idle_timeout=30.0)
        await carrier.start(sup.run)
        actor = echo(sup, "a")
        carrier.start_soon(ask, actor, "pause")  # busy for 5 s
        await trio.testing.wait_all_tasks_blocked()
        carrier.start_soon(ask, actor, "queued")  # waits behind it
        await trio.testing.wait_all_tasks_blocked()
        stopped_at = trio.current_time()
        carrier.cancel_scope.cancel()
    assert ended["queued"] - stopped_at < 1

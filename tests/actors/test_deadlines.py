"""An actor's deadline timer fires its deadline command on time, and re-arms."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import attrs
import trio

from atp.actors import Actor, Supervisor
from atp.actors.commands import Reply

EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


@attrs.define
class Clock:
    """Wall-clock time driven by Trio's (mock) clock; all these actors use of a context
    (their commands carry no idempotency key, so no gate or ledger is asked)."""

    gate: Any = None
    ledger: Any = None

    def now(self) -> datetime:
        return EPOCH + timedelta(seconds=trio.current_time())


class Alarm(Actor[str]):
    kind = "alarm"

    def __init__(self, deadlines: list[float]) -> None:
        super().__init__("1", context=Clock())  # type: ignore[arg-type]
        self.deadlines = deadlines
        self.fired: list[float] = []

    def next_deadline(self) -> datetime | None:
        return EPOCH + timedelta(seconds=self.deadlines[0]) if self.deadlines else None

    def deadline_command(self) -> str:
        return "tick"

    async def handle(self, command: str) -> Reply:
        if command == "tick":
            self.fired.append(round(trio.current_time(), 3))
            self.deadlines.pop(0)
        return Reply(200, {})


async def test_deadlines_fire_in_order_at_their_time(
    nursery: trio.Nursery, autojump_clock: Any
) -> None:
    supervisor = Supervisor(idle_timeout=1000.0)
    await nursery.start(supervisor.run)
    alarm = supervisor.actor(Alarm, "1", lambda: Alarm([5.0, 12.5, 400.0]))
    await trio.sleep(1)
    await alarm.ask("unrelated")  # a command in between does not disturb the timer
    await trio.sleep(500)
    assert alarm.fired == [5.0, 12.5, 400.0]


async def test_an_actor_with_no_deadline_stops_when_idle(
    nursery: trio.Nursery, autojump_clock: Any
) -> None:
    supervisor = Supervisor(idle_timeout=30.0)
    await nursery.start(supervisor.run)
    alarm = supervisor.actor(Alarm, "1", lambda: Alarm([10.0]))
    await trio.sleep(39)
    assert supervisor.running(Alarm, "1") is alarm
    await trio.sleep(2)
    assert supervisor.running(Alarm, "1") is None
    assert alarm.fired == [10.0]

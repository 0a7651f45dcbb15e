"""The retry schedule on Trio's mock clock (``tests/support/mock_clock.py``): attempts land when
the contract says (§5.4), and the 30 s and 120 s waits take milliseconds.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import trio
from trio.testing import MockClock

from atp.actors import MailboxActor, Runtime
from atp.settings import Settings
from tests.support.helpers import Agent, Api
from tests.support.mock_clock import open_carrier
from tests.support.receivers import Receiver, Respond, open_receiver


@pytest.fixture
async def carrier(tmp_path: Path, clock: MockClock) -> AsyncIterator[tuple[Api, Runtime]]:
    settings = Settings(data_dir=tmp_path / "var", port=0, webhook_allow_private=True)
    async with open_carrier(settings) as opened:
        yield opened


@pytest.fixture
def api(carrier: tuple[Api, Runtime]) -> Api:
    return carrier[0]


@pytest.fixture
def runtime(carrier: tuple[Api, Runtime]) -> Runtime:
    return carrier[1]


async def pushed_pair(api: Api, receiver: Receiver) -> tuple[Agent, Agent]:
    alpha, beta = await api.pair()
    await api.webhook_endpoint(beta, receiver.url())
    return alpha, beta


async def test_the_default_schedule_retries_after_30_then_120_seconds(
    api: Api, clock: MockClock
) -> None:
    async with open_receiver(patience=math.inf) as receiver:
        alpha, beta = await pushed_pair(api, receiver)
        receiver.script(Respond(500), Respond(503))
        await api.send(alpha, beta)
        requests = await receiver.wait_for(3)
        gaps = [b.arrived_at - a.arrived_at for a, b in itertools.pairwise(requests)]
        assert gaps == [pytest.approx(30, abs=0.5), pytest.approx(120, abs=0.5)]
        await trio.sleep(600)  # attempt 4 would have come 300 s after attempt 3
        assert len(receiver.requests) == 3  # the free plan's cap


async def test_retry_after_replaces_the_scheduled_delay(api: Api, clock: MockClock) -> None:
    async with open_receiver(patience=math.inf) as receiver:
        alpha, beta = await pushed_pair(api, receiver)
        receiver.script(Respond(429, headers={"retry-after": "7"}), Respond(503))
        await api.send(alpha, beta)
        requests = await receiver.wait_for(3)
        assert requests[1].arrived_at - requests[0].arrived_at == pytest.approx(7, abs=0.5)
        # Without Retry-After the schedule applies again: attempt 3 waits 120 s.
        assert requests[2].arrived_at - requests[1].arrived_at == pytest.approx(120, abs=0.5)


async def test_an_idle_mailbox_is_woken_for_a_distant_retry(
    api: Api, runtime: Runtime, clock: MockClock
) -> None:
    # A 600 s Retry-After outlasts the mailbox's idle timeout and its keep-running
    # window, so the mailbox stops, and the sweep must wake it in time.
    async with open_receiver(patience=math.inf) as receiver:
        alpha, beta = await pushed_pair(api, receiver)
        receiver.script(Respond(503, headers={"retry-after": "600"}))
        await api.send(alpha, beta)
        await receiver.wait_for(1)
        await trio.sleep(300)
        assert runtime.supervisor.running(MailboxActor, beta.id) is None
        requests = await receiver.wait_for(2)
        assert requests[1].arrived_at - requests[0].arrived_at == pytest.approx(600, abs=0.5)

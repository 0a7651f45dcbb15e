"""Recipient liveness: when an agent was last seen, and whether it is reachable, on the
agent, on a message's status and on its A2A task."""

from __future__ import annotations

from datetime import datetime

import attrs
import pytest
import trio

from atp.actors import Runtime
from atp.settings import Settings
from tests.support.a2a import A2A
from tests.support.helpers import Api


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return attrs.evolve(settings, reachable_window=0.5)


async def test_a_sender_tells_a_polling_recipient_from_one_never_seen(api: Api) -> None:
    sender, recipient = await api.pair()
    sent = (await api.send(sender, recipient)).json()
    status = (await api.status(sender.token, sent["message"]["id"])).json()
    assert status["recipient_liveness"] == {"last_seen_at": None, "reachable": False}
    shown = (await api.get(f"/api/agents/{recipient.id}", recipient.account_token)).json()
    assert (shown["last_seen_at"], shown["reachable"]) == (None, False)

    before = datetime.now().astimezone()
    assert (await api.claim(recipient)).status_code == 201
    status = (await api.status(sender.token, sent["message"]["id"])).json()
    seen = status["recipient_liveness"]
    assert seen["reachable"] is True
    assert datetime.fromisoformat(seen["last_seen_at"].replace("Z", "+00:00")) >= before
    task = await A2A(api.client, sender, recipient).task(sent["message"]["id"])
    assert task["metadata"]["atp"]["recipientReachable"] is True

    await trio.sleep(0.6)  # past the window: seen, but no longer reachable
    shown = (await api.get(f"/api/agents/{recipient.id}", recipient.account_token)).json()
    assert (shown["last_seen_at"], shown["reachable"]) == (seen["last_seen_at"], False)


async def test_a_long_poll_keeps_its_agent_reachable(api: Api, runtime: Runtime) -> None:
    sender, recipient = await api.pair()

    async def reachable() -> bool:
        shown = (await api.get(f"/api/agents/{recipient.id}", recipient.account_token)).json()
        return bool(shown["reachable"])

    async with trio.open_nursery() as nursery:
        nursery.start_soon(api.post, "/api/inbox/claims", recipient.token, {"wait_seconds": 3})
        await trio.sleep(1.0)  # twice the window, still waiting
        assert await reachable()
        assert runtime.carrier.statistics().liveness.waiting == 1
        await api.send(sender, recipient)  # answers the long poll
    await trio.sleep(0.6)
    assert not await reachable()
    assert runtime.carrier.statistics().liveness.waiting == 0


async def test_last_seen_times_survive_a_restart(settings: Settings) -> None:
    from atp.serve import open_runtime

    async with open_runtime(settings) as rt:
        rt.context.liveness.seen("agt_kept")
        at = rt.context.liveness.last_seen("agt_kept")
    async with open_runtime(settings) as rt:  # saved as the carrier stopped
        assert rt.context.liveness.last_seen("agt_kept") == at

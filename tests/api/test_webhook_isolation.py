"""A receiver that never answers holds up nobody else's pushes.

Each mailbox has at most 8 attempts in flight, so a hung receiver occupies at most 8
of the dispatcher's slots, for at most one attempt deadline each. Here the timeout is
long (30 s), so the hung attempts are all still in flight while another agent's push
goes through.
"""

from __future__ import annotations

import attrs
import pytest
import trio

from atp.settings import Settings
from tests.support.helpers import Api
from tests.support.receivers import Hang, open_receiver


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return attrs.evolve(settings, webhook_allow_private=True, webhook_timeout=30)


async def test_a_hung_receiver_does_not_hold_up_another(api: Api) -> None:
    async with open_receiver(default=Hang()) as stuck, open_receiver() as healthy:
        alpha, beta = await api.pair()
        delta, gamma = await api.pair()
        for agent, receiver in ((beta, stuck), (gamma, healthy)):
            await api.webhook_endpoint(agent, receiver.url())
        stuck_ids = [(await api.send(alpha, beta)).json()["message"]["id"] for _ in range(20)]
        await stuck.wait_for(8)  # beta's share of the dispatcher, all hanging
        await api.send(delta, gamma)
        await healthy.wait_for(1)
        # Gamma's push went out while every one of beta's attempts was still hanging.
        leased = [
            (await api.status(beta.token, m)).json()["deliveries"][0]["status"]
            for m in stuck_ids[:8]
        ]
        assert leased == ["leased"] * 8
        await trio.sleep(0.2)
        assert len(stuck.requests) == 8  # the other 12 wait for beta's share, not a slot

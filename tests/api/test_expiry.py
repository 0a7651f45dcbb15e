"""Message expiry: a message nobody took expires after its TTL, by claim or by the sweep."""

from __future__ import annotations

from datetime import timedelta

from atp.actors import DueSweeper, Runtime
from tests.support.helpers import Api


def shift(runtime: Runtime, delta: timedelta) -> None:
    real = runtime.context.now
    runtime.context.now = lambda: real() + delta


async def test_a_claim_after_the_ttl_expires_the_message(api: Api, runtime: Runtime) -> None:
    alpha, beta = await api.pair()
    message_id = (await api.send(alpha, beta)).json()["message"]["id"]
    shift(runtime, timedelta(days=7, seconds=1))
    assert (await api.claim(beta)).json() == {"delivery": None}
    status = (await api.status(alpha.token, message_id)).json()
    assert status["carrier_status"] == "expired"
    assert status["terminal_at"] is not None


async def test_the_sweep_expires_messages_of_idle_mailboxes(api: Api, runtime: Runtime) -> None:
    alpha, beta = await api.pair()
    gamma = await api.agent(name="gamma")
    fresh = (await api.send(alpha, beta)).json()["message"]["id"]
    shift(runtime, timedelta(days=7, seconds=1))
    # Beta's mailbox is not woken again, so only the sweep can expire its message.
    late = (await api.send(alpha, gamma)).json()["message"]["id"]
    assert await DueSweeper(runtime.context, runtime.supervisor).sweep() == 1
    assert (await api.status(alpha.token, fresh)).json()["carrier_status"] == "expired"
    assert (await api.status(alpha.token, late)).json()["carrier_status"] == "queued"
    assert await DueSweeper(runtime.context, runtime.supervisor).sweep() == 0


async def test_a_message_handed_out_keeps_delivered_after_the_ttl(
    api: Api, runtime: Runtime
) -> None:
    alpha, beta = await api.pair()
    message_id = (await api.send(alpha, beta)).json()["message"]["id"]
    assert (await api.claim(beta, 0)).status_code == 201
    shift(runtime, timedelta(days=8))
    assert (await api.claim(beta)).json() == {"delivery": None}
    assert (await api.status(alpha.token, message_id)).json()["carrier_status"] == "delivered"

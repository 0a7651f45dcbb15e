"""A mailbox keeps a window of its oldest open messages in memory; the rest page in.

Each test shrinks ``mailbox_window`` to a few messages, so that a handful of sends
makes a backlog beyond it, and checks what a recipient sees: every message handed out
once, oldest first, across restarts, expiries, webhooks and concurrent claims.
"""

from __future__ import annotations

import json
import math

import attrs
import pytest
import trio
from trio.testing import MockClock

from atp.actors import MailboxActor, Runtime
from atp.actors.mailbox._window import MailboxWindow
from atp.settings import Settings
from tests.api.test_sessions import opened, turn
from tests.support.helpers import Agent, Api, text
from tests.support.mock_clock import open_carrier
from tests.support.receivers import Respond, open_receiver

WINDOW = 3


def windowed(settings: Settings, **changes: object) -> Settings:
    return attrs.evolve(settings, mailbox_window=WINDOW, **changes)  # type: ignore[arg-type]


def live(runtime: Runtime, agent: Agent) -> MailboxWindow:
    """What the agent's running mailbox holds in memory."""
    actor = runtime.supervisor.running(MailboxActor, agent.id)
    assert isinstance(actor, MailboxActor)
    return actor.window


async def send_all(api: Api, sender: Agent, recipient: Agent, count: int) -> list[str]:
    """Send ``count`` messages one after another; their ids, in order."""
    ids = []
    for n in range(count):
        r = await api.send(sender, recipient, text(f"m-{n}"))
        assert r.status_code == 201, r.text
        ids.append(r.json()["message"]["id"])
    return ids


async def claim_all(api: Api, recipient: Agent) -> list[str]:
    """Claim until the inbox is empty (leases held, nothing ACKed); message ids in order."""
    claimed: list[str] = []
    while True:
        r = await api.claim(recipient, lease_seconds=300)
        assert r.status_code in (200, 201), r.text
        if r.status_code == 200:
            assert r.json() == {"delivery": None}
            return claimed
        claimed.append(r.json()["message"]["id"])


async def test_a_backlog_beyond_the_window_is_handed_out_oldest_first_and_once(
    settings: Settings,
) -> None:
    async with open_carrier(windowed(settings)) as (api, runtime):
        alpha, beta = await api.pair()
        sent = await send_all(api, alpha, beta, 10)
        window = live(runtime, beta)
        assert len(window.open) == WINDOW and window.beyond  # the other 7 are not in memory
        for message_id in sent[:2]:  # two leave the window: it has room again ...
            delivery = (await api.claim(beta)).json()
            assert delivery["message"]["id"] == message_id
            assert (await api.ack(beta, delivery["id"], "completed")).status_code == 201
        # ... but a new message still waits behind the seven older ones.
        sent += await send_all(api, alpha, beta, 1)
        assert len(window.open) == WINDOW - 2
        assert await claim_all(api, beta) == sent[2:]
        assert not window.beyond
        # Sent after the backlog drained: the window takes them in again.
        later = await send_all(api, alpha, beta, 2)
        assert await claim_all(api, beta) == later


async def test_a_restarted_mailbox_pages_its_backlog_in_order(settings: Settings) -> None:
    settings = windowed(settings)
    async with open_carrier(settings) as (api, runtime):
        alpha, beta = await api.pair()
        sent = await send_all(api, alpha, beta, 8)
        assert await claim_all(api, beta) == sent
        unclaimed = await send_all(api, alpha, beta, 7)
    async with open_carrier(settings) as (api, runtime):
        more = await send_all(api, alpha, beta, 2)
        window = live(runtime, beta)
        # The window starts with the oldest open messages: leased ones (for 300 s), so
        # the mailbox pages past them to the first queued one (the next to expire).
        assert window.beyond and len(window.open) < len(sent) + len(unclaimed) + len(more)
        assert await claim_all(api, beta) == unclaimed + more


async def test_messages_beyond_the_window_expire_on_time(
    settings: Settings, clock: MockClock
) -> None:
    # The mailbox stays up (no idle stop), so its own deadline pages the backlog in.
    ttl = windowed(settings, message_ttl=600.0, actor_idle_timeout=3600.0)
    async with open_carrier(ttl) as (api, _):
        alpha, beta = await api.pair()
        sent = await send_all(api, alpha, beta, 8)
        await trio.sleep(601)
        for message_id in sent:
            document = (await api.status(alpha.token, message_id)).json()
            assert document["carrier_status"] == "expired", message_id


async def released(api: Api, recipient: Agent, message_id: str) -> None:
    r = await api.post(f"/api/dead_letters/{message_id}/release", recipient.token)
    assert r.status_code == 200, r.text


async def test_a_released_dead_letter_takes_its_place_in_send_order(
    settings: Settings, clock: MockClock
) -> None:
    settings = windowed(
        settings, webhook_allow_private=True, message_ttl=600.0, actor_idle_timeout=3600.0
    )
    # 410: each message is parked as a dead letter, and the endpoint turned off.
    async with (
        open_receiver(default=Respond(410), patience=math.inf) as receiver,
        open_carrier(settings) as (api, _),
    ):
        alpha, beta = await api.pair()
        parked = []
        for n in range(2):
            await api.webhook_endpoint(beta, receiver.url())
            parked.append((await api.send(alpha, beta, text(f"p-{n}"))).json()["message"]["id"])
            await api.settled(beta, parked[-1], "failed")
        await trio.sleep(100)
        later = await send_all(api, alpha, beta, 2)
        for message_id in parked:
            await released(api, beta, message_id)
        # Older than the two sent after them, the letters are handed out first ...
        claimed = (await api.claim(beta, lease_seconds=3600)).json()
        assert claimed["message"]["id"] == parked[0]
        # ... and expire at their own time, 100 s before the others.
        await trio.sleep(600 - 100 + 1)
        statuses = [(await api.status(beta.token, m)).json()["carrier_status"] for m in parked]
        statuses += [(await api.status(beta.token, m)).json()["carrier_status"] for m in later]
        assert statuses == ["delivered", "expired", "queued", "queued"]


async def test_webhook_work_beyond_the_window_is_attempted(
    settings: Settings, clock: MockClock
) -> None:
    settings = windowed(settings, webhook_allow_private=True)
    async with (
        open_receiver(default=Respond(500), patience=math.inf) as receiver,
        open_carrier(settings) as (api, runtime),
    ):
        alpha, beta = await api.pair()
        await api.webhook_endpoint(beta, receiver.url())
        sent = await send_all(api, alpha, beta, 7)
        firsts = await receiver.wait_for(len(sent))
        assert sorted(json.loads(r.body)["message"]["id"] for r in firsts) == sorted(sent)
        window = live(runtime, beta)
        assert window.beyond and len(window.overflow) <= WINDOW  # the rest waits on disk
        # Failed first attempts are retried 30 s later, those beyond the window too.
        seconds = await receiver.wait_for(2 * len(sent))
        again = [json.loads(r.body)["message"]["id"] for r in seconds[len(sent) :]]
        assert sorted(again) == sorted(sent)


async def test_a_dead_endpoint_keeps_a_window_of_retries_in_memory_and_misses_none(
    settings: Settings, clock: MockClock
) -> None:
    # Free plan: three attempts, 30 s and 120 s apart; then the message is parked.
    settings = windowed(settings, webhook_allow_private=True, actor_idle_timeout=3600.0)
    delays = settings.webhook_retry_delays[1:3]
    most_live = 0

    async def watch(window: MailboxWindow) -> None:
        nonlocal most_live
        while True:
            most_live = max(most_live, len(window.overflow))
            await trio.sleep(1)

    async with (
        open_receiver(default=Respond(503), patience=1000.0) as receiver,
        open_carrier(settings) as (api, runtime),
        trio.open_nursery() as nursery,
    ):
        alpha, beta = await api.pair()
        await api.webhook_endpoint(beta, receiver.url())
        start = trio.current_time()
        sent = await send_all(api, alpha, beta, 4 * WINDOW)
        nursery.start_soon(watch, live(runtime, beta))
        requests = await receiver.wait_for(3 * len(sent))
        await trio.sleep(1)
        nursery.cancel_scope.cancel()
    assert len(receiver.requests) == 3 * len(sent)  # no attempt twice
    assert 0 < most_live <= WINDOW
    times: dict[str, list[float]] = {}
    for request in requests:
        times.setdefault(json.loads(request.body)["message"]["id"], []).append(request.arrived_at)
    assert sorted(times) == sorted(sent)
    for message_id, (first, second, third) in times.items():
        # On time, to the mock clock's second, though most waited on disk for their turn.
        assert first - start < 1, message_id
        assert delays[0] <= second - first < delays[0] + 1, message_id
        assert delays[1] <= third - second < delays[1] + 1, message_id


async def test_an_attempt_that_outlives_its_mailbox_is_recorded_though_on_disk(
    settings: Settings, clock: MockClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = windowed(settings, webhook_allow_private=True, actor_idle_timeout=3600.0)
    count = 2 * WINDOW + 1
    async with (
        open_receiver(default=Respond(500), patience=1000.0) as receiver,
        open_carrier(settings) as (api, runtime),
    ):
        alpha, beta = await api.pair()
        await api.webhook_endpoint(beta, receiver.url())
        receiver.script(*[Respond(500)] * (count - 1), Respond(200, after=5))
        sent = await send_all(api, alpha, beta, count)
        await receiver.wait_for(count)  # the last attempt is in flight for 5 s
        crash = RuntimeError("the mailbox crashes")
        intake = MailboxActor._intake

        async def crashing(actor: MailboxActor, *args: object) -> object:
            monkeypatch.setattr(MailboxActor, "_intake", intake)
            raise crash

        monkeypatch.setattr(MailboxActor, "_intake", crashing)
        assert (await api.send(alpha, beta)).status_code == 500
        await trio.sleep(1)  # restarted after its backoff
        # Restarted, the mailbox holds a window of messages and the three earliest due
        # retries; the last message waits on disk (due when its attempt's lease ends).
        window = live(runtime, beta)
        assert sent[-1] not in window.overflow and window.live(sent[-1]) is None
        status = await api.settled(beta, sent[-1], "delivered")
        assert [d["status"] for d in status["deliveries"]] == ["delivered"]
        await trio.sleep(600)  # past the lease: nothing pushes it again
    pushed = [json.loads(r.body)["message"]["id"] for r in receiver.requests]
    assert pushed.count(sent[-1]) == 1


async def test_a_pushed_turn_waits_for_an_earlier_turn_beyond_the_window(
    settings: Settings, clock: MockClock
) -> None:
    settings = windowed(settings, webhook_allow_private=True)
    async with (
        open_receiver(patience=math.inf) as receiver,
        open_carrier(settings) as (api, runtime),
    ):
        alpha, beta, session_id = await opened(api)
        backlog = await send_all(api, alpha, beta, WINDOW + 2)
        r = await turn(api, alpha, session_id, "first")  # polled: beta has no webhook
        first = r.json()["message_status"]["message"]["id"]
        await api.webhook_endpoint(beta, receiver.url())
        r = await turn(api, alpha, session_id, "second")  # pushed, but only after "first"
        second = r.json()["message_status"]["message"]["id"]
        assert second in live(runtime, beta).overflow
        await trio.sleep(60)
        assert receiver.requests == []
        assert await claim_all(api, beta) == [*backlog, first]
        pushed = await receiver.wait_for(1)
        assert json.loads(pushed[0].body)["message"]["id"] == second


async def test_concurrent_sends_and_claims_hand_out_each_message_once(
    settings: Settings,
) -> None:
    per_sender, senders = 12, 3
    more_agents = windowed(settings, agents_per_account={"free": 1 + senders})
    async with open_carrier(more_agents) as (api, _):
        account = await api.signup()
        beta = await api.agent(account, "beta")
        alphas = [await api.agent(account, f"alpha-{n}") for n in range(senders)]
        sent: list[str] = []
        claimed: list[str] = []

        async def sender(alpha: Agent) -> None:
            for n in range(per_sender):
                r = await api.send(alpha, beta, text(f"{alpha.id}-{n}"))
                assert r.status_code == 201, r.text
                sent.append(r.json()["message"]["id"])

        async def claimer() -> None:
            while len(claimed) < per_sender * senders:
                r = await api.claim(beta, lease_seconds=300)
                assert r.status_code in (200, 201), r.text
                if r.status_code == 201:
                    claimed.append(r.json()["message"]["id"])
                else:
                    await trio.sleep(0.005)

        with trio.fail_after(60):
            async with trio.open_nursery() as nursery:
                for alpha in alphas:
                    nursery.start_soon(sender, alpha)
                for _ in range(3):
                    nursery.start_soon(claimer)
        assert len(claimed) == len(set(claimed)) == len(sent)
        assert set(claimed) == set(sent)
        assert await claim_all(api, beta) == []

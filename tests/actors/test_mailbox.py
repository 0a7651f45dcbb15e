"""The MailboxActor through an ActorContext of fakes: intake and sender policies, claims
in order (sessions held back), ACKs of a session's opening handed on, expiry, webhook
claims handed to the dispatcher only after the commit, and refusals that stage
nothing. ``handle`` is called directly, as the base's loop would (test_actor_base);
what a batch would commit is ``actor.staged()``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import attrs
import pytest

from atp.actors import ActorContext, Ticket
from atp.actors._arrivals import Arrivals
from atp.actors._pushes import WebhookJob
from atp.actors.commands import (
    AckOpening,
    ClaimInbox,
    ExtendLease,
    Forward,
    RecordAck,
    Reply,
    RunDue,
    SendMessage,
)
from atp.actors.mailbox import MailboxActor
from atp.domain import Agent, IdempotencyRecord, Message, Session
from atp.errors import NotFound, UnknownSenderRateLimited
from atp.sealing import Sealer
from atp.settings import Settings

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
RECIPIENT, ACCOUNT = "agt_r", "acct_r"


@attrs.define
class Identities:
    agent_of: Agent

    async def agent(self, agent_id: str) -> Agent | None:
        return self.agent_of if agent_id == self.agent_of.agent_id else None

    async def account(self, account_id: str) -> Any:
        return None  # the free plan's attempts


class Queries:
    """The views of an empty mailbox: nothing beyond the window, nothing on disk."""

    async def unknown_sender_times(self, agent_id: str, since: datetime) -> list[Any]:
        return []

    async def open_message_ids(self, agent_id: str, limit: int) -> list[str]:
        return []

    async def webhook_turn_ids(self, agent_id: str) -> list[str]:
        return []

    async def waiting_inbox_replays(self, agent_id: str) -> list[Any]:
        return []

    async def delivery_message(self, delivery_id: str) -> None:
        return None


class Views:
    stuck = None

    async def wait_current(self) -> None:
        pass


class Ledger:
    async def get(self, cls: type, aggregate_id: Any) -> None:
        return None

    async def load_all(self, cls: type, ids: list[Any]) -> list[Any]:
        return []


@attrs.define
class Pushes:
    submitted: list[WebhookJob] = attrs.Factory(list)

    def submit(self, job: WebhookJob) -> None:
        self.submitted.append(job)


@attrs.define
class Fixture:
    actor: MailboxActor
    recipient: Agent
    pushes: Pushes
    clock: list[datetime]

    async def ask(self, command: Any) -> Reply | Forward:
        return await self.actor.handle(command)

    async def send(self, sender: str = "agt_s", account: str = ACCOUNT, **kw: Any) -> str:
        command = SendMessage(RECIPIENT, sender, account, {"text": "hi"}, ticket(), **kw)
        reply = await self.ask(command)
        assert isinstance(reply, Reply) and reply.status == 201
        status = reply.body.get("message_status", reply.body)  # a session's send nests it
        return str(status["message"]["id"])

    async def claim(self) -> dict[str, Any] | None:
        reply = await self.ask(ClaimInbox(RECIPIENT, 60, ticket()))
        assert isinstance(reply, Reply)
        return reply.body if reply.status == 201 else None

    def staged_messages(self) -> list[Message]:
        return [a for a in self.actor.staged() if isinstance(a, Message)]


_keys = iter(range(1_000_000))


def ticket() -> Ticket:
    return Ticket(f"scope-{next(_keys)}", "hash")


def same_account_session(session_id: str, opening_message_id: str) -> Session:
    """A pending session from agt_s to the recipient, both of one account (trusted)."""
    return Session(
        session_id=session_id,
        initiator_agent_id="agt_s",
        initiator_account_id=ACCOUNT,
        recipient_agent_id=RECIPIENT,
        recipient_account_id=ACCOUNT,
        opening_message_id=opening_message_id,
        at=NOW,
    )


@pytest.fixture
async def fx() -> Fixture:
    recipient = Agent(
        agent_id=RECIPIENT,
        account_id=ACCOUNT,
        display_name=None,
        description=None,
        key_id="key_1",
        key_hash="h",
        at=NOW,
    )
    pushes, clock = Pushes(), [NOW]
    context = ActorContext(
        settings=Settings(unknown_sender_limit=2),
        journal=None,  # type: ignore[arg-type]
        gate=None,  # type: ignore[arg-type]
        identities=Identities(recipient),  # type: ignore[arg-type]
        ledger=Ledger(),
        queries=Queries(),  # type: ignore[arg-type]
        views=Views(),
        sealer=Sealer("test"),
        pushes=pushes,
        receipts=None,  # type: ignore[arg-type]
        routes=None,  # type: ignore[arg-type]
        arrivals=Arrivals(),
        now=lambda: clock[0],
    )
    actor = MailboxActor(RECIPIENT, context)
    await actor.rehydrate()
    return Fixture(actor, recipient, pushes, clock)


async def test_a_send_stages_its_message_and_its_answer_together(fx: Fixture) -> None:
    message_id = await fx.send()
    [message, record] = fx.actor.staged()
    assert isinstance(message, Message) and message.message_id == message_id
    assert message.trust == "trusted"  # same account, no policy
    assert isinstance(record, IdempotencyRecord)


async def test_claims_hand_messages_out_oldest_first_one_lease_each(fx: Fixture) -> None:
    first, second = await fx.send(), await fx.send()
    claimed = [await fx.claim(), await fx.claim(), await fx.claim()]
    assert [c["message"]["id"] if c else None for c in claimed] == [first, second, None]


async def test_a_later_turn_waits_while_its_sessions_first_is_outstanding(
    fx: Fixture,
) -> None:
    fx.recipient.set_webhook_endpoint("https://r.example/hook", "sealed", None, NOW)
    session = same_account_session("ses_1", "msg_open")
    session.answer("accepted", NOW)
    first = await fx.send(session=session)
    second = await fx.send(session=session)
    loose = await fx.send("agt_x", "acct_x")  # untrusted: polling only
    await fx.actor.before_commit()
    fx.actor.committed()
    # The first turn is out to its webhook (outstanding, not delivered yet): the second
    # waits for it, by webhook and by polling alike; the loose message does not.
    assert [job.message_id for job in fx.pushes.submitted] == [first]
    assert (await fx.claim() or {})["message"]["id"] == loose
    assert await fx.claim() is None
    assert second not in {job.message_id for job in fx.pushes.submitted}


async def test_the_unknown_sender_limit_refuses_and_stages_nothing(fx: Fixture) -> None:
    await fx.send("agt_x", "acct_x")
    await fx.send("agt_x", "acct_x")
    staged_before = len(fx.actor.staged())
    with pytest.raises(UnknownSenderRateLimited):
        await fx.send("agt_x", "acct_x")
    assert len(fx.actor.staged()) == staged_before
    await fx.send("agt_y", "acct_y")  # counted per sender account
    fx.clock[0] = NOW + timedelta(seconds=Settings().unknown_sender_window + 1)
    await fx.send("agt_x", "acct_x")  # the window slid past the first two


async def test_a_blocked_sender_is_answered_but_never_handed_out(fx: Fixture) -> None:
    fx.recipient.set_sender_policy("pol_1", "block", "agt_x", None, NOW)
    await fx.send("agt_x", "acct_x")
    [message] = fx.staged_messages()
    assert message.carrier_status == "rejected"
    assert await fx.claim() is None


async def test_an_ack_of_a_sessions_opening_goes_on_to_its_session(fx: Fixture) -> None:
    session = same_account_session("ses_2", "msg_opening")
    await fx.send(session=session)
    delivery = await fx.claim()
    assert delivery is not None and delivery["message"]["id"] == "msg_opening"
    staged = len(fx.actor.staged())
    ack = RecordAck(RECIPIENT, delivery["id"], "accepted", None, ticket())
    reply = await fx.ask(ack)
    assert reply == Forward(AckOpening("ses_2", ack))
    assert len(fx.actor.staged()) == staged  # handed on: nothing recorded here


async def test_an_unknown_delivery_is_refused_and_stages_nothing(fx: Fixture) -> None:
    with pytest.raises(NotFound):
        await fx.ask(ExtendLease(RECIPIENT, "dlv_nope", 30, ticket()))
    assert fx.actor.staged() == []


async def test_run_due_expires_what_nobody_claimed_in_time(fx: Fixture) -> None:
    kept = await fx.send()
    assert await fx.claim() is not None  # handed out: keeps its status, not expired
    waiting = await fx.send()
    fx.clock[0] = NOW + timedelta(seconds=Settings().message_ttl + 1)
    reply = await fx.ask(RunDue(RECIPIENT))
    assert reply == Reply(200, {"expired": 1})
    statuses = {m.message_id: m.carrier_status for m in fx.staged_messages()}
    assert statuses[waiting] == "expired" and statuses[kept] == "delivered"


async def test_a_webhook_claim_goes_to_the_dispatcher_only_after_the_commit(
    fx: Fixture,
) -> None:
    fx.recipient.set_webhook_endpoint("https://r.example/hook", "sealed", None, NOW)
    message_id = await fx.send()
    await fx.actor.before_commit()
    assert fx.pushes.submitted == []  # claimed in this batch, not yet pushed
    [message] = fx.staged_messages()
    assert message.active_lease(NOW) is not None  # the attempt's lease is staged
    fx.actor.committed()
    [job] = fx.pushes.submitted
    assert job.message_id == message_id
    assert await fx.claim() is None  # under the attempt's lease: not for polling

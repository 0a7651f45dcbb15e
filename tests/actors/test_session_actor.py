"""The SessionActor through an ActorContext of fakes: what it checks itself, what it
lends to the recipient's mailbox (and how), and what it forgets when a lent command
fails. ``handle`` is called directly: the actor's loop is the base's (test_actor_base)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import attrs
import pytest

from atp.actors import ActorContext, SessionActor, Ticket
from atp.actors.commands import (
    AnswerOpening,
    AnswerSession,
    Command,
    ExpireOpening,
    ExpireSession,
    OpenSession,
    Reply,
    SendMessage,
    SendTurn,
)
from atp.domain import Session
from atp.errors import (
    AtpError,
    InvalidSessionRecipient,
    NotFound,
    RecipientNotFound,
    SessionNotOpen,
    UnexpectedError,
)
from atp.settings import Settings
from tests.domain.test_session import NOW
from tests.domain.test_session import session as new_session

TICKET = Ticket("scope", "hash")


@attrs.define
class Mailboxes:
    """Stands for the router: records what is lent, answers or fails as told."""

    lent: list[Command] = attrs.Factory(list)
    fail_with: AtpError | None = None

    async def ask(self, command: Command, context: ActorContext) -> Reply:
        self.lent.append(command)
        if self.fail_with is not None:
            raise self.fail_with
        return Reply(201, {"lent": type(command).__name__})


@attrs.define
class Agents:
    async def agent(self, agent_id: str) -> Any:
        return None if agent_id == "agt_gone" else attrs.make_class("A", ["account_id"])("acct")


@attrs.define
class Ledger:
    stored: Session | None = None
    reads: int = 0

    async def get(self, cls: type, aggregate_id: Any) -> Session | None:
        self.reads += 1
        return self.stored


@attrs.define
class Fixture:
    actor: SessionActor
    mailboxes: Mailboxes
    ledger: Ledger
    clock: list[datetime]


@pytest.fixture
def fx() -> Fixture:
    mailboxes, ledger, clock = Mailboxes(), Ledger(), [NOW]
    context = ActorContext(
        settings=Settings(),
        journal=None,  # type: ignore[arg-type]
        gate=None,  # type: ignore[arg-type]
        identities=Agents(),  # type: ignore[arg-type]
        ledger=ledger,  # type: ignore[arg-type]
        queries=None,  # type: ignore[arg-type]
        views=None,  # type: ignore[arg-type]
        sealer=None,  # type: ignore[arg-type]
        pushes=None,  # type: ignore[arg-type]
        receipts=None,  # type: ignore[arg-type]
        routes=mailboxes,
        now=lambda: clock[0],
    )
    return Fixture(SessionActor("ses_1", context), mailboxes, ledger, clock)


def open_command(recipient: str = "agt_r") -> OpenSession:
    return OpenSession("ses_1", "agt_i", "acct", recipient, {"text": "hi"}, TICKET)


def stored_session(status: str = "pending") -> Session:
    session = new_session()
    if status == "open":
        session.answer("accepted", NOW)
    session.collect_events()
    return session


async def test_opening_lends_the_new_session_with_its_first_message(fx: Fixture) -> None:
    reply = await fx.actor.handle(open_command())
    assert reply == Reply(201, {"lent": "SendMessage"})
    [lent] = fx.mailboxes.lent
    assert isinstance(lent, SendMessage) and lent.recipient_agent_id == "agt_r"
    assert lent.session is fx.actor.session and lent.session.status == "pending"


@pytest.mark.parametrize(
    ("recipient", "error"), [("agt_i", InvalidSessionRecipient), ("agt_gone", RecipientNotFound)]
)
async def test_an_opening_it_refuses_itself_lends_nothing(
    fx: Fixture, recipient: str, error: type[AtpError]
) -> None:
    with pytest.raises(error):
        await fx.actor.handle(open_command(recipient))
    assert fx.mailboxes.lent == [] and fx.actor.session is None


async def test_an_opening_the_mailbox_refuses_never_existed(fx: Fixture) -> None:
    fx.mailboxes.fail_with = NotFound("recipient")
    with pytest.raises(NotFound):
        await fx.actor.handle(open_command())
    assert fx.actor.session is None
    with pytest.raises(NotFound):  # so a turn finds no session
        await fx.actor.handle(SendTurn("ses_1", "agt_i", "acct", {}, TICKET))


async def test_turns_wait_for_the_answer_and_only_participants_send(fx: Fixture) -> None:
    fx.ledger.stored = stored_session("pending")
    await fx.actor.rehydrate()
    with pytest.raises(SessionNotOpen):
        await fx.actor.handle(SendTurn("ses_1", "agt_i", "acct", {}, TICKET))
    fx.actor.session = stored_session("open")
    with pytest.raises(NotFound):
        await fx.actor.handle(SendTurn("ses_1", "agt_x", "acct", {}, TICKET))
    assert fx.mailboxes.lent == []
    await fx.actor.handle(SendTurn("ses_1", "agt_r", "acct", {}, TICKET))
    [lent] = fx.mailboxes.lent
    assert isinstance(lent, SendMessage) and lent.recipient_agent_id == "agt_i"


async def test_only_the_recipient_answers(fx: Fixture) -> None:
    fx.actor.session = stored_session("pending")
    with pytest.raises(NotFound):
        await fx.actor.handle(AnswerSession("ses_1", "agt_i", "accepted", None, TICKET))
    await fx.actor.handle(AnswerSession("ses_1", "agt_r", "accepted", None, TICKET))
    [lent] = fx.mailboxes.lent
    assert isinstance(lent, AnswerOpening) and lent.session is fx.actor.session


async def test_a_lent_command_whose_batch_crashed_reloads_the_session(fx: Fixture) -> None:
    fx.ledger.stored = stored_session("pending")
    fx.actor.session = stored_session("pending")
    fx.mailboxes.fail_with = UnexpectedError()
    reads = fx.ledger.reads
    with pytest.raises(UnexpectedError):
        await fx.actor.handle(AnswerSession("ses_1", "agt_r", "accepted", None, TICKET))
    assert fx.ledger.reads == reads + 1 and fx.actor.session is fx.ledger.stored


async def test_the_opening_expires_at_its_ttl_and_not_before(fx: Fixture) -> None:
    fx.actor.session = stored_session("pending")
    ttl = timedelta(seconds=Settings().message_ttl)
    assert fx.actor.next_deadline() == NOW + ttl
    fx.clock[0] = NOW + ttl - timedelta(seconds=1)
    assert (await fx.actor.handle(ExpireSession("ses_1"))).body == {"expired": False}
    assert fx.mailboxes.lent == []
    fx.clock[0] = NOW + ttl
    assert (await fx.actor.handle(ExpireSession("ses_1"))).body == {"expired": True}
    [lent] = fx.mailboxes.lent
    assert isinstance(lent, ExpireOpening) and lent.recipient_agent_id == "agt_r"

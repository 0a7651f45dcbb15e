"""The router: every command reaches the actor that owns it, and none while the store
is away or the writer lock is lost. Driven with a fake supervisor: no store, no actor."""

from __future__ import annotations

import typing
from typing import Any

import attrs
import pytest

from atp.actors import (
    AccountActor,
    Actor,
    ActorContext,
    MailboxActor,
    ReceiptsActor,
    ReplayActor,
    Router,
    SessionActor,
    account_commands,
    commands,
    envelope_commands,
    name_commands,
    receipt_commands,
    relay_commands,
    replay_commands,
    schema_commands,
    webhook_commands,
    workflow_commands,
)
from atp.actors.commands import (
    AckOpening,
    ClaimInbox,
    Command,
    Forward,
    OpenAccount,
    RecordAck,
    Reply,
    RunDue,
)
from atp.actors.receipt_commands import DeletePushConfig
from atp.actors.replay_commands import RunReplay
from atp.errors import StoreUnavailable
from atp.ledger import LedgerNotHeld, StoreAvailability


@attrs.define
class FakeActor:
    """Answers every command with its owner, or hands on what it is told to."""

    cls: type[Actor[Any]]
    owner_id: str
    forward: Forward | None = None
    asked: list[Command] = attrs.Factory(list)

    async def ask(self, command: Command) -> Reply | Forward:
        self.asked.append(command)
        if self.forward is not None:
            return self.forward
        return Reply(200, {"actor": self.cls.kind, "owner": self.owner_id})


@attrs.define
class FakeSupervisor:
    actors: dict[tuple[str, str], FakeActor] = attrs.Factory(dict)

    def actor(self, cls: type[Actor[Any]], owner_id: str, factory: Any) -> FakeActor:
        return self.actors.setdefault((cls.kind, owner_id), FakeActor(cls, owner_id))


@attrs.define
class FakeJournal:
    may_commit: bool = True


def router(
    supervisor: FakeSupervisor, journal: FakeJournal, store: StoreAvailability | None = None
) -> Router:
    return Router(supervisor, journal, store or StoreAvailability())  # type: ignore[arg-type]


CONTEXT: ActorContext = None  # type: ignore[assignment]  # the fakes never use it


def test_every_command_class_is_in_a_union_and_has_an_owner() -> None:
    """A command class defined but left out of its owner's union would reach no actor."""
    defined = {
        cls
        for module in (
            commands,
            account_commands,
            replay_commands,
            receipt_commands,
            name_commands,
            envelope_commands,
            relay_commands,
            schema_commands,
            workflow_commands,
            webhook_commands,
        )
        for cls in vars(module).values()
        if attrs.has(cls) and cls.__module__ == module.__name__ and cls not in (Reply, Forward)
    }
    assert set(typing.get_args(Command)) == defined
    routes = router(FakeSupervisor(), FakeJournal())
    assert not [cls.__name__ for cls in defined if cls not in routes._owners]


@pytest.mark.parametrize(
    ("command", "kind", "owner"),
    [
        (OpenAccount("acct_1", "Acme"), AccountActor.kind, "acct_1"),
        (RunDue("agt_2"), MailboxActor.kind, "agt_2"),
        (RunReplay("rpl_3"), ReplayActor.kind, "rpl_3"),
        (DeletePushConfig("msg_4", "cfg"), ReceiptsActor.kind, "msg_4"),
    ],
)
async def test_a_command_goes_to_its_owner(command: Command, kind: str, owner: str) -> None:
    supervisor = FakeSupervisor()
    reply = await router(supervisor, FakeJournal()).ask(command, CONTEXT)
    assert reply.body == {"actor": kind, "owner": owner}
    assert supervisor.actors[(kind, owner)].asked == [command]


async def test_nothing_is_asked_while_the_store_is_away() -> None:
    supervisor, store = FakeSupervisor(), StoreAvailability()
    store.found_away(OSError("gone"))
    with pytest.raises(StoreUnavailable):
        await router(supervisor, FakeJournal(), store).ask(RunDue("agt_1"), CONTEXT)
    assert supervisor.actors == {}
    assert store.statistics().refused_calls == 1


async def test_nothing_is_asked_while_the_writer_lock_is_lost() -> None:
    supervisor = FakeSupervisor()
    with pytest.raises(LedgerNotHeld):
        await router(supervisor, FakeJournal(may_commit=False)).ask(RunDue("agt_1"), CONTEXT)
    assert supervisor.actors == {}


async def test_an_ack_of_a_session_opening_goes_on_to_its_session() -> None:
    supervisor = FakeSupervisor()
    ack = RecordAck("agt_1", "dlv_1", "accepted", None, ticket=None)  # type: ignore[arg-type]
    mailbox = supervisor.actor(MailboxActor, "agt_1", None)
    mailbox.forward = Forward(AckOpening("ses_9", ack))
    reply = await router(supervisor, FakeJournal()).ask(ack, CONTEXT)
    assert reply.body == {"actor": SessionActor.kind, "owner": "ses_9"}
    assert supervisor.actors[(SessionActor.kind, "ses_9")].asked == [AckOpening("ses_9", ack)]


async def test_a_claim_waits_in_its_recipients_mailbox() -> None:
    supervisor = FakeSupervisor()
    claim = ClaimInbox("agt_5", 60, ticket=None)  # type: ignore[arg-type]
    await router(supervisor, FakeJournal()).ask(claim, CONTEXT)
    assert list(supervisor.actors) == [(MailboxActor.kind, "agt_5")]

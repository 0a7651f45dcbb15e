"""The router: which actor owns a command, and the way every command takes to it.

Each command belongs to one of the unions in ``atp.actors.commands`` (account,
mailbox, session, replay, receipts, name, and AMTP's message, relay, schema,
workflow, webhook); the router reads those unions once and finds the owner by the command's
class and its key field, starting the actor under the supervisor if it is not running.
Adding a command is adding it to its union; the router is not touched.

This is the seam a carrier of several processes on one PostgreSQL replaces: a router
that finds the process holding the owner's lease and forwards the command there
(docs/architecture.md, "Scaling out").
"""

from __future__ import annotations

from collections.abc import Callable
from operator import attrgetter
from typing import Any, get_args

from atp.actors._account import AccountActor
from atp.actors._actor import Actor
from atp.actors._amtp_webhooks import WebhooksActor
from atp.actors._context import ActorContext
from atp.actors._envelopes import EnvelopesActor
from atp.actors._journal import JournalWriter
from atp.actors._names import NamesActor
from atp.actors._receipts import ReceiptsActor
from atp.actors._relays import RelayActor
from atp.actors._replay import ReplayActor
from atp.actors._schemas import SchemasActor
from atp.actors._session import SessionActor
from atp.actors._supervisor import Supervisor
from atp.actors._workflows import WorkflowActor
from atp.actors.commands import (
    AccountCommand,
    Command,
    Forward,
    MailboxCommand,
    Reply,
    SessionCommand,
)
from atp.actors.envelope_commands import EnvelopeCommand
from atp.actors.mailbox import MailboxActor
from atp.actors.name_commands import NameCommand
from atp.actors.receipt_commands import ReceiptCommand
from atp.actors.relay_commands import RelayCommand
from atp.actors.replay_commands import ReplayCommand
from atp.actors.schema_commands import SchemaCommand
from atp.actors.webhook_commands import WebhookCommand
from atp.actors.workflow_commands import WorkflowCommand
from atp.errors import StoreUnavailable
from atp.ledger import LedgerNotHeld, StoreAvailability

__all__ = ["Router"]

# Each union of commands, the actor that owns them, and the field naming its instance.
_OWNERS: tuple[tuple[Any, type[Actor[Any]], str], ...] = (
    (AccountCommand, AccountActor, "account_id"),
    (MailboxCommand, MailboxActor, "recipient_agent_id"),
    (SessionCommand, SessionActor, "session_id"),
    (ReplayCommand, ReplayActor, "replay_id"),
    (ReceiptCommand, ReceiptsActor, "task_id"),
    (NameCommand, NamesActor, "name"),
    (EnvelopeCommand, EnvelopesActor, "message_id"),
    (RelayCommand, RelayActor, "relay_id"),
    (SchemaCommand, SchemasActor, "key"),
    (WorkflowCommand, WorkflowActor, "workflow_id"),
    (WebhookCommand, WebhooksActor, "webhook_id"),
)


class Router:
    """Finds (or starts) the owning actor of each command and asks it."""

    def __init__(
        self, supervisor: Supervisor, journal: JournalWriter, store: StoreAvailability
    ) -> None:
        self._supervisor = supervisor
        self._journal = journal
        self._store = store
        self._owners: dict[type, tuple[type[Actor[Any]], Callable[[Command], str]]] = {
            cls: (actor, attrgetter(name))
            for union, actor, name in _OWNERS
            for cls in get_args(union) or (union,)  # a union, or one command
        }

    async def ask(self, command: Command, context: ActorContext) -> Reply:
        """Deliver ``command`` to the actor that owns its aggregates and return the reply.

        While the store is away, or the writer lock is lost, a command is refused at
        once, before it reaches an actor: every command ends in a commit, and a command
        queued behind an actor that waits for the store would wait as long as the outage.

        Raises:
            AtpError: the command was refused; nothing was recorded.
            StoreUnavailable: the store is away, or went away while the command ran (it
                may have been committed: a retry with the same idempotency key tells).
        """
        if self._store.away:
            self._store.refused()
            raise StoreUnavailable("the store is away")
        if not self._journal.may_commit:  # the writer lock is being taken again
            raise LedgerNotHeld()
        answer = await self._owner(command, context).ask(command)
        if isinstance(answer, Forward):  # an ACK of a session's opening: to the session
            answer = await self._owner(answer.command, context).ask(answer.command)
        assert isinstance(answer, Reply), "an actor hands a command on once at most"
        return answer

    def _owner(self, command: Command, context: ActorContext) -> Actor[Any]:
        cls, key_of = self._owners[type(command)]
        instance = key_of(command)
        return self._supervisor.actor(cls, instance, lambda: cls(instance, context))

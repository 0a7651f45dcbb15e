"""The Actor base: one Trio task, one channel of commands, one writer of its aggregates.

An actor rehydrates from the ledger, then loops: take every command that is waiting,
handle each against its in-memory aggregates, commit all of their events through the
journal in one go, then answer. Commands check before they record, so a command
that fails with an ``AtpError`` changes nothing and the others of its batch go on.
Anything else is a crash: every command of the batch gets ``UnexpectedError`` and
the supervisor restarts the actor, which rehydrates from the committed ledger.

Idempotency keys are looked up before handling, in one trip for the batch, or after,
for a command alone in its batch (``skips_lookup``); ``KeyLookup`` has the protocol.
"""

from __future__ import annotations

import json
import math
from datetime import datetime
from typing import Any, ClassVar, Generic, TypeVar

import attrs
import trio
from eventsourcing.domain import Aggregate

from atp.actors._context import ActorContext
from atp.actors._idempotency import Ticket, encode_answer
from atp.actors._key_lookup import Answered, KeyLookup
from atp.actors.commands import Forward, Reply
from atp.domain import AmtpRelay, IdempotencyRecord, Message, Session
from atp.errors import AtpError, StoreUnavailable, UnexpectedError
from atp.ledger import LedgerConflict
from atp.observe import REQUEST_ID

__all__ = ["Actor", "ActorStatistics"]

C = TypeVar("C")
_MAX_BATCH = 256
_ASK_SHIELD = 10.0  # seconds an asker keeps waiting for its reply once cancelled


@attrs.frozen
class ActorStatistics:
    key: str
    queued: int
    handled: int
    batches: int


@attrs.define(eq=False)
class _Envelope(Generic[C]):
    command: C
    # The asker's request, so that what the actor logs while handling it carries its id.
    request_id: str | None = attrs.field(factory=REQUEST_ID.get)
    done: trio.Event = attrs.field(factory=trio.Event)
    reply: Reply | Forward | None = None
    error: AtpError | None = None

    def settle(self, before: Answered) -> None:
        """Answer with what the command's key answered before (or the reuse's error)."""
        if isinstance(before, AtpError):
            self.reply, self.error = None, before
        else:
            reply = Reply(before.status, json.loads(before.encoded), before.encoded)
            self.reply, self.error = reply, None


class Actor(Generic[C]):
    """Base of the mailbox, account, session and replay actors. Subclasses set ``kind`` and
    implement ``rehydrate`` and ``handle``."""

    # An actor stops after this long without commands, or the supervisor's idle
    # timeout if that is shorter. A live actor costs ~20 KB (task, channel, state).
    max_idle: ClassVar[float] = math.inf
    # What the actor is of ("mailbox", "account"...): its supervisor key's prefix.
    kind: ClassVar[str]

    def __init__(self, owner_id: str, context: ActorContext) -> None:
        self.key = self.key_of(owner_id)
        self.context = context
        self._send, self._receive = trio.open_memory_channel[_Envelope[C]](math.inf)
        # Keyed by identity (aggregates compare by value): a batch stages dozens.
        self._staged: dict[int, Aggregate] = {}
        self._keys = KeyLookup(context.gate, context.ledger)
        self._handled = 0
        self._batches = 0

    @classmethod
    def key_of(cls, owner_id: str) -> str:
        """The supervisor key of the actor of ``owner_id`` (an agent, account, session or
        replay id)."""
        return f"{cls.kind}:{owner_id}"

    # -- the seam -----------------------------------------------------------------------

    async def ask(self, command: C) -> Reply | Forward:
        """Send a command and wait for its reply (or the command it hands on).

        Raises:
            AtpError: the command was refused (nothing was recorded).
        """
        envelope = _Envelope(command)
        self._send.send_nowait(envelope)
        # Once handed over, a command runs to its end even if the asker is cancelled
        # (a client that hung up): the asker holds its idempotency scope until then, so
        # a retry cannot race the original. Bounded, so a stalled store cannot make
        # shutdown hang.
        try:
            await envelope.done.wait()
        except trio.Cancelled:
            with trio.move_on_after(_ASK_SHIELD) as scope:
                scope.shield = True
                await envelope.done.wait()
            raise
        if envelope.error is not None:
            raise envelope.error
        assert envelope.reply is not None
        return envelope.reply

    @property
    def queued(self) -> int:
        return self._receive.statistics().current_buffer_used

    def fail_queued(self, error: AtpError) -> int:
        """Answer every command waiting for this actor with ``error``; return how many.

        For the supervisor, while the actor cannot run: they would otherwise wait for it.
        """
        failed = 0
        while True:
            try:
                envelope = self._receive.receive_nowait()
            except trio.WouldBlock:
                return failed
            envelope.reply, envelope.error = None, error
            envelope.done.set()
            failed += 1

    # -- for subclasses -----------------------------------------------------------------

    async def rehydrate(self) -> None:
        """Load the live state from the ledger (and caught-up views); it replaces
        whatever is live, uncommitted changes included."""

    def skips_lookup(self, command: C) -> bool:
        """Whether ``command``, alone in its batch, may be handled before its idempotency
        key is looked up: all it may change is this actor's own, so that a commit refused
        for a key answered before can be undone by ``rehydrate``."""
        return False

    async def handle(self, command: C) -> Reply | Forward:
        """Check the command against live state, record events, and return the reply;
        or hand on, changing nothing, a command another actor owns (``Forward``)."""
        raise NotImplementedError

    def stage(self, *aggregates: Aggregate) -> None:
        """Include these aggregates' new events in this batch's commit."""
        for aggregate in aggregates:
            self._staged.setdefault(id(aggregate), aggregate)

    def staged(self) -> list[Aggregate]:
        """The aggregates this batch has changed so far, in the order first staged."""
        return list(self._staged.values())

    def answer(self, ticket: Ticket, status: int, body: dict[str, Any], now: datetime) -> Reply:
        """Reply, and stage the idempotency record of this reply in the same commit."""
        encoded = encode_answer(body)
        self.stage(ticket.record(status, encoded, self.context.sealer, now))
        return Reply(status, body, encoded)

    async def before_commit(self) -> None:
        """Called after a batch's commands, before its commit (to add follow-up events)."""

    def committed(self) -> None:
        """Called after each successful commit (publish new state to other readers)."""

    def keep_running_for(self) -> float:
        """An idle actor whose next deadline is at most this far off keeps running (so a
        stopped actor only has to be woken for deadlines further away)."""
        return 0.0

    def next_deadline(self) -> datetime | None:
        """When something in this actor next falls due (a lease end, an expiry), if ever."""
        return None

    def deadline_command(self) -> C | None:
        """The command the actor gives itself when its deadline passes."""
        return None

    def _due_in(self) -> float | None:
        deadline = self.next_deadline()
        if deadline is None:
            return None
        return max(0.0, (deadline - self.context.now()).total_seconds())

    # -- the loop -----------------------------------------------------------------------

    async def run(self, idle_timeout: float) -> None:
        """Rehydrate, then serve commands (and deadlines) until idle for ``idle_timeout``."""
        idle_timeout = min(idle_timeout, self.max_idle)
        await self.rehydrate()
        idle_until = trio.current_time() + idle_timeout
        while True:
            first: _Envelope[C] | None = None
            timeout = max(0.0, idle_until - trio.current_time())
            due = self._due_in()
            with trio.move_on_after(timeout if due is None else min(timeout, due)):
                first = await self._receive.receive()
            if first is None:
                command = self.deadline_command() if due is not None and due <= timeout else None
                if command is None:
                    # No await between this check and returning: nothing can slip in.
                    if self.queued == 0 and (due is None or due > self.keep_running_for()):
                        return
                    # Staying for a deadline: sleep until it, not one idle period at a time.
                    remaining = 0.0 if due is None else due - timeout
                    idle_until = trio.current_time() + max(idle_timeout, remaining)
                    continue
                first = _Envelope(command)
            idle_until = trio.current_time() + idle_timeout
            batch = [first]
            while len(batch) < _MAX_BATCH:
                try:
                    batch.append(self._receive.receive_nowait())
                except trio.WouldBlock:
                    break
            await self._process(batch)

    async def _process(self, batch: list[_Envelope[C]]) -> None:
        commands = [envelope.command for envelope in batch]
        try:
            if self._may_skip_lookup(batch):
                try:
                    recorded = await self._run(batch, {})
                except LedgerConflict:
                    # Its key was answered before (the record's first version is taken),
                    # or another write got in first: forget the change, go again, looking.
                    self._keys.conflicted()
                    for envelope in batch:
                        envelope.reply, envelope.error = None, None
                    await self.rehydrate()
                    await self._run(batch, await self._keys.answered(commands))
                else:
                    for i, before in (await self._keys.unrecorded(commands, recorded)).items():
                        batch[i].settle(before)
            else:
                await self._run(batch, await self._keys.answered(commands))
        except BaseException as exc:
            # The store's absence is no bug: the client is told to retry (503).
            error = exc if isinstance(exc, StoreUnavailable) else UnexpectedError()
            for envelope in batch:
                if envelope.error is None:  # refused ones changed nothing: keep their error
                    envelope.reply, envelope.error = None, error
                envelope.done.set()
            raise
        self._handled += len(batch)
        self._batches += 1
        for envelope in batch:
            envelope.done.set()

    def _may_skip_lookup(self, batch: list[_Envelope[C]]) -> bool:
        """Whether to handle this batch first and let the commit prove its key is new.

        Only a lone command: under load, batches of several keep the lookup, whose trip
        lets batches and commits grow (docs/performance.md, "What paid").
        """
        return len(batch) == 1 and self.skips_lookup(batch[0].command) and self._keys.may_skip()

    async def _run(self, batch: list[_Envelope[C]], answered: dict[int, Answered]) -> set[str]:
        """Handle the batch (but the commands ``answered`` before, by position) and commit
        what it staged; return the idempotency scopes it recorded."""
        self._staged = {}
        try:
            for i, envelope in enumerate(batch):
                if i in answered:
                    envelope.settle(answered[i])
                    continue
                request = REQUEST_ID.set(envelope.request_id)
                try:
                    envelope.reply = await self.handle(envelope.command)
                except AtpError as exc:
                    envelope.error = exc
                finally:
                    REQUEST_ID.reset(request)
            await self.before_commit()
            if not self._staged:
                return set()
            staged = list(self._staged.values())
            await self.context.journal.commit(staged)
            recorded = self._keys.recorded([a for a in staged if isinstance(a, IdempotencyRecord)])
            arrivals = self.context.arrivals
            for aggregate in staged:  # whoever staged it: wake its followers
                if isinstance(aggregate, Message):  # A2A tasks (atp.api.a2a)
                    arrivals.notify(aggregate.message_id)
                elif isinstance(aggregate, Session):  # session streams
                    arrivals.notify(aggregate.session_id)
                elif isinstance(aggregate, AmtpRelay):  # AMTP notices (its message's id)
                    arrivals.notify(aggregate.message_id)
            self.committed()
            return recorded
        finally:
            self._staged = {}

    def statistics(self) -> ActorStatistics:
        return ActorStatistics(self.key, self.queued, self._handled, self._batches)

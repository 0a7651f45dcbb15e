"""The sweep: wake stopped actors whose messages or sessions expire, or webhooks fall due.

A running mailbox acts on its own deadline timers. An idle mailbox is stopped to save
memory once its next deadline is further off than two sweep intervals, so every
interval the sweep asks the views which recipients have something due before the
next sweep (an overdue message, a webhook retry, an attempt lease that a crash left
behind, a pending session's opening) and wakes their actors, whose timers then fire
on time; it wakes every replay still running whose actor stopped, and has the receipt
courier follow every task that may still owe a receipt, the AMTP notifier every AMTP
message that may still owe a notice, and the dispatcher every
message an A2A recipient answered as going on. It also runs once at start,
which is what resumes webhook deliveries, replays and receipts after a restart.
"""

from __future__ import annotations

import logging
from datetime import timedelta

import trio

from atp.actors._context import ActorContext
from atp.actors._relays import RelayActor
from atp.actors._replay import ReplayActor
from atp.actors._supervisor import Supervisor
from atp.actors._workflows import WorkflowActor
from atp.actors.commands import Command, ExpireSession, RunDue
from atp.actors.relay_commands import WakeRelay
from atp.actors.replay_commands import RunReplay
from atp.actors.workflow_commands import ExpireWorkflow
from atp.errors import AtpError, StoreUnavailable
from atp.ledger import Backoff

__all__ = ["DueSweeper"]

log = logging.getLogger(__name__)


class DueSweeper:
    """Every ``settings.sweep_interval`` seconds, wake mailboxes with work falling due."""

    def __init__(self, context: ActorContext, supervisor: Supervisor) -> None:
        self.context = context
        self._supervisor = supervisor
        self.interval = context.settings.sweep_interval
        self.sweeps = 0

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        # A failed sweep (the store away) is tried again sooner than the next one is due:
        # after 1 s, doubling up to the interval. Never take the server down.
        backoff = Backoff(first=1.0, cap=self.interval)
        failures = 0
        while True:
            try:
                await self.sweep()
            except Exception as exc:
                failures += 1
                delay = backoff.delay(failures)
                if failures == 1 or not isinstance(exc, StoreUnavailable):
                    log.warning("sweep failed (%s); next try in %.1f s", type(exc).__name__, delay)
            else:
                failures, delay = 0, self.interval
            await trio.sleep(delay)

    async def sweep(self) -> int:
        """Wake every mailbox with something due before the next sweep; return how many."""
        context = self.context
        await context.views.wait_current()
        now = context.now()
        recipients = set(await context.queries.overdue_recipients(now))
        horizon = now + timedelta(seconds=context.settings.sweep_horizon)
        recipients.update(await context.queries.webhook_due_recipients(horizon))
        ttl = timedelta(seconds=context.settings.message_ttl)
        sessions = await context.queries.pending_sessions(horizon - ttl)
        # A replay's actor runs while its replay does: only one stopped (a restart, a
        # crash) needs waking, and asking a live one would wait behind its push.
        replays = [
            r
            for r in await context.queries.running_replays()
            if self._supervisor.running(ReplayActor, r) is None
        ]
        # A relay's actor, like a replay's, runs while its relay is pending.
        relays = [
            r
            for r in await context.queries.amtp.pending_relays()
            if self._supervisor.running(RelayActor, r) is None
        ]
        workflows = [
            w
            for w in await context.queries.amtp.running_workflows()
            if self._supervisor.running(WorkflowActor, w) is None
        ]
        for task_id in await context.queries.owed_receipt_tasks():
            context.receipts.watch(task_id)  # one followed already is left alone
        if context.notices is not None:  # AMTP messages owing their senders' webhooks
            for message_id in await context.queries.amtp.owed_notices():
                context.notices.watch(message_id)
        for message_id, recipient in await context.queries.accepted_messages():
            context.pushes.follow(recipient, message_id)  # an A2A recipient's task, if any
        commands: list[Command] = [
            *(RunDue(a) for a in sorted(recipients)),
            *(ExpireSession(s) for s in sessions),
            *(RunReplay(r) for r in replays),
            *(WakeRelay(r) for r in relays),
            *(ExpireWorkflow(w) for w in workflows),  # ends one that is due, else runs it
        ]
        for command in commands:
            try:
                await context.ask(command)
            except AtpError:
                continue
        self.sweeps += 1
        return len(commands)

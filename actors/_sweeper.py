"""The expiry sweep: expire messages of mailboxes that are not running.

A running mailbox expires its messages on its own deadline timer. An idle mailbox is
stopped to save memory, so once a minute the sweep asks the inbox view which
recipients hold overdue messages and tells each mailbox to expire them. This is off
the hot path: nothing a request waits for depends on it.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import trio

from actors._commands import ExpireDue
from atp.errors import AtpError

if TYPE_CHECKING:
    from actors._runtime import Runtime

__all__ = ["ExpirySweeper"]

log = logging.getLogger(__name__)


class ExpirySweeper:
    """Every ``interval`` seconds, expire overdue messages of idle mailboxes."""

    def __init__(self, runtime: Runtime, interval: float = 60.0) -> None:
        self.runtime = runtime
        self.interval = interval
        self.sweeps = 0

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        while True:
            await trio.sleep(self.interval)
            try:
                await self.sweep()
            except Exception as exc:  # the next sweep tries again; never take the server down
                log.warning("expiry sweep failed (%s)", type(exc).__name__)

    async def sweep(self) -> int:
        """Expire overdue messages now; return how many mailboxes were asked."""
        runtime = self.runtime
        await runtime.projections.wait_current()
        recipients = await runtime.queries.overdue_recipients(runtime.now())
        for agent_id in recipients:
            try:
                await runtime.ask(ExpireDue(agent_id))
            except AtpError:
                continue
        self.sweeps += 1
        return len(recipients)

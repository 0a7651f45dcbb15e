"""NamesActor: one agent name, the only writer of its ``AgentName``.

Claims of one name, from any account, queue here one after another, so the check that
the name is free and the claim are one step: no two agents are ever given one name,
and no claim ends in a failed commit.
"""

from __future__ import annotations

from atp.actors._actor import Actor
from atp.actors._context import ActorContext
from atp.actors.commands import Reply
from atp.actors.name_commands import NameCommand
from atp.domain import Agent, AgentName, aggregate_id
from atp.errors import NameTaken

__all__ = ["NamesActor"]


class NamesActor(Actor[NameCommand]):
    """One name."""

    max_idle = 2.0  # a name is claimed once, or rarely
    kind = "name"

    def __init__(self, name: str, context: ActorContext) -> None:
        super().__init__(name, context)
        self.name = name
        self.holder: AgentName | None = None

    async def rehydrate(self) -> None:
        self.holder = await self.context.ledger.get(AgentName, AgentName.create_id(self.name))

    async def handle(self, command: NameCommand) -> Reply:
        now = self.context.now()
        holder = self.holder
        if holder is None:
            holder = self.holder = AgentName(
                name=self.name, agent_id=command.agent_id, account_id=command.account_id, at=now
            )
        elif holder.agent_id != command.agent_id:
            registered = await self.context.ledger.get(Agent, aggregate_id(holder.agent_id))
            if not holder.orphaned(registered is not None, now):
                raise NameTaken()
            holder.reclaim(command.agent_id, command.account_id, now)
        self.stage(holder)
        return Reply(200, {})

"""Account: who pays, which plan, and which agents it may still register."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from atp.domain._ids import aggregate_id
from atp.errors import PlanLimitExceeded

__all__ = ["Account"]


class Account(Aggregate):
    """An account: its plan, its account keys and its active agents (the plan-limit boundary)."""

    class Opened(Aggregate.Created):
        account_id: str
        name: str
        plan: str
        key_id: str
        key_hash: str
        at: datetime

    class AgentAdmitted(Aggregate.Event):
        agent_id: str

    class AuditorKeyIssued(Aggregate.Event):
        """A read-only key of the account's audit trail (``role: auditor``)."""

        account_id: str
        key_id: str
        key_hash: str
        at: datetime

    class PayloadRead(Aggregate.Event):
        """An auditor key read a message's payload: audit reads are audited too."""

        key_id: str
        message_id: str
        at: datetime

    @staticmethod
    def create_id(account_id: str) -> UUID:
        return aggregate_id(account_id)

    @event(Opened)
    def __init__(
        self, account_id: str, name: str, plan: str, key_id: str, key_hash: str, at: datetime
    ) -> None:
        self.account_id = account_id
        self.name = name
        self.plan = plan
        self.key_hashes = {key_id: key_hash}
        self.agent_ids: list[str] = []
        self.created_at = at

    def admit_agent(self, agent_id: str, limit: int) -> None:
        """Count a new active agent against the plan.

        Raises:
            PlanLimitExceeded: the account already has ``limit`` active agents.
        """
        if len(self.agent_ids) >= limit:
            raise PlanLimitExceeded(f"{len(self.agent_ids)} active agents, limit {limit}")
        self._agent_admitted(agent_id)

    @event(AgentAdmitted)
    def _agent_admitted(self, agent_id: str) -> None:
        self.agent_ids.append(agent_id)

    def issue_auditor_key(self, key_id: str, key_hash: str, at: datetime) -> None:
        """Record a new auditor key (its hash only; the views make it a principal)."""
        self._auditor_key_issued(self.account_id, key_id, key_hash, at)

    @event(AuditorKeyIssued)
    def _auditor_key_issued(
        self, account_id: str, key_id: str, key_hash: str, at: datetime
    ) -> None:
        pass  # the account's own state does not change: the key lives in the views

    @event(PayloadRead)
    def record_payload_read(self, key_id: str, message_id: str, at: datetime) -> None:
        """Record that auditor key ``key_id`` read message ``message_id``'s payload."""

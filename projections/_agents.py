"""AgentsView: accounts, agents, API keys (hashes only) and sender policies."""

from __future__ import annotations

import json
from typing import Any, Literal

from eventsourcing.domain import DomainEventProtocol

from atp.domain import ADDRESS_PREFIX, Account, Agent
from atp.projections._view import View, Writer
from atp.wire import iso

__all__ = ["AgentsView"]


class AgentsView(View):
    """Who is who: what authentication and agent reads are answered from.

    Agent events after ``Registered`` carry only the aggregate's ledger id, so their
    statements find the agent by ``ledger_id`` in SQL.
    """

    name = "agents"
    tables = ("atp_accounts", "atp_api_keys", "atp_agents", "atp_sender_policies")
    aggregates = (Account, Agent)

    def apply(self, out: Writer, position: int, event: DomainEventProtocol[Any]) -> None:
        match event:
            case Account.Opened():
                out.execute(
                    "INSERT INTO atp_accounts (id, name, plan, created_at) VALUES (?, ?, ?, ?)",
                    (event.account_id, event.name, event.plan, iso(event.at)),
                )
                out.execute(
                    "INSERT INTO atp_api_keys (token_hash, key_id, kind, account_id, agent_id) "
                    "VALUES (?, ?, 'account', ?, NULL)",
                    (event.key_hash, event.key_id, event.account_id),
                )
            case Account.AuditorKeyIssued():
                out.execute(
                    "INSERT INTO atp_api_keys (token_hash, key_id, kind, account_id, agent_id) "
                    "VALUES (?, ?, 'auditor', ?, NULL)",
                    (event.key_hash, event.key_id, event.account_id),
                )
            case Agent.Registered():
                out.execute(
                    "INSERT INTO atp_agents (id, ledger_id, account_id, address, display_name,"
                    " description, status, active_key_id, created_at, name, supported_schemas)"
                    " VALUES (?, ?, ?, ?, ?, ?, 'active', ?, ?, ?, ?)",
                    (
                        event.agent_id,
                        str(event.originator_id),
                        event.account_id,
                        ADDRESS_PREFIX + event.agent_id,
                        event.display_name,
                        event.description,
                        event.key_id,
                        iso(event.at),
                        event.name,
                        json.dumps(event.supported_schemas) if event.supported_schemas else None,
                    ),
                )
                self._insert_agent_key(out, event.key_id, event.key_hash, "id", event.agent_id)
            case Agent.KeyRotated():
                ledger_id = str(event.originator_id)
                out.execute(
                    "UPDATE atp_api_keys SET revoked = 1"
                    " WHERE agent_id = (SELECT id FROM atp_agents WHERE ledger_id = ?)",
                    (ledger_id,),
                )
                self._insert_agent_key(out, event.key_id, event.key_hash, "ledger_id", ledger_id)
                out.execute(
                    "UPDATE atp_agents SET active_key_id = ? WHERE ledger_id = ?",
                    (event.key_id, ledger_id),
                )
            case Agent.WebhookEndpointSet():
                out.execute(
                    "UPDATE atp_agents SET webhook_url = ?, webhook_active = 1 WHERE ledger_id = ?",
                    (event.url, str(event.originator_id)),
                )
            case Agent.WebhookEndpointDisabled():
                out.execute(
                    "UPDATE atp_agents SET webhook_active = 0 WHERE ledger_id = ?",
                    (str(event.originator_id),),
                )
            case Agent.Deactivated():
                out.execute(
                    "UPDATE atp_agents SET status = 'inactive' WHERE ledger_id = ?",
                    (str(event.originator_id),),
                )
            case Agent.SenderPolicySet():
                out.execute("DELETE FROM atp_sender_policies WHERE id = ?", (event.policy_id,))
                out.execute(
                    "INSERT INTO atp_sender_policies (id, recipient_agent_id, sender_agent_id,"
                    " sender_account_id, effect, updated_at)"
                    " SELECT ?, id, ?, ?, ?, ? FROM atp_agents WHERE ledger_id = ?",
                    (
                        event.policy_id,
                        event.sender_agent_id,
                        event.sender_account_id,
                        event.effect,
                        iso(event.at),
                        str(event.originator_id),
                    ),
                )

    @staticmethod
    def _insert_agent_key(
        out: Writer, key_id: str, key_hash: str, column: Literal["id", "ledger_id"], value: str
    ) -> None:
        """The agent's new key, the agent found by its ``id`` or its ``ledger_id``."""
        out.execute(
            "INSERT INTO atp_api_keys (token_hash, key_id, kind, account_id, agent_id) "
            f"SELECT ?, ?, 'agent', account_id, id FROM atp_agents WHERE {column} = ?",
            (key_hash, key_id, value),
        )

"""Agent: an address, its one active key, its webhook endpoint and its sender policies."""

from __future__ import annotations

from datetime import datetime
from typing import Literal, TypedDict
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from atp.domain._ids import aggregate_id

__all__ = ["ADDRESS_PREFIX", "Agent", "SenderPolicy", "Trust"]

ADDRESS_PREFIX = "atp://agent/"
Trust = Literal["trusted", "untrusted"]


class SenderPolicy(TypedDict):
    """One recipient-owned rule about a sender agent or a whole sender account."""

    id: str
    effect: Literal["allow", "block"]
    sender_agent_id: str | None
    sender_account_id: str | None
    updated_at: datetime


class WebhookEndpoint(TypedDict):
    url: str
    active: bool
    sealed_secret: str  # encrypted with the carrier's secret key; never stored in clear


class Agent(Aggregate):
    """A registered agent. Its account's actor is its only writer."""

    class Registered(Aggregate.Created):
        agent_id: str
        account_id: str
        display_name: str | None
        description: str | None
        key_id: str
        key_hash: str
        at: datetime

    class KeyRotated(Aggregate.Event):
        key_id: str
        key_hash: str
        at: datetime

    class WebhookEndpointSet(Aggregate.Event):
        url: str
        sealed_secret: str
        at: datetime

    class SenderPolicySet(Aggregate.Event):
        policy_id: str
        effect: Literal["allow", "block"]
        sender_agent_id: str | None
        sender_account_id: str | None
        at: datetime

    @staticmethod
    def create_id(agent_id: str) -> UUID:
        return aggregate_id(agent_id)

    @event(Registered)
    def __init__(
        self,
        agent_id: str,
        account_id: str,
        display_name: str | None,
        description: str | None,
        key_id: str,
        key_hash: str,
        at: datetime,
    ) -> None:
        self.agent_id = agent_id
        self.account_id = account_id
        self.address = ADDRESS_PREFIX + agent_id
        self.display_name = display_name
        self.description = description
        self.status = "active"
        # Only one key is active at a time (contract §2.3); revoked keys are kept for audit.
        self.active_key_id: str | None = key_id
        self.key_hashes = {key_id: key_hash}
        self.webhook: WebhookEndpoint | None = None
        self.policies: list[SenderPolicy] = []
        self.created_at = at

    @event(KeyRotated)
    def rotate_key(self, key_id: str, key_hash: str, at: datetime) -> None:
        """Revoke every active key and activate a new one; the old token stops at once."""
        self.key_hashes[key_id] = key_hash
        self.active_key_id = key_id

    @event(WebhookEndpointSet)
    def set_webhook_endpoint(self, url: str, sealed_secret: str, at: datetime) -> None:
        """Point pushes at ``url``, with a freshly generated (sealed) signing secret."""
        self.webhook = {"url": url, "active": True, "sealed_secret": sealed_secret}

    def set_sender_policy(
        self,
        policy_id: str,
        effect: Literal["allow", "block"],
        sender_agent_id: str | None,
        sender_account_id: str | None,
        at: datetime,
    ) -> SenderPolicy:
        """Upsert the policy for one sender; an existing policy keeps its id."""
        existing = self.policy_for(sender_agent_id, sender_account_id)
        self._sender_policy_set(
            existing["id"] if existing else policy_id,
            effect,
            sender_agent_id,
            sender_account_id,
            at,
        )
        policy = self.policy_for(sender_agent_id, sender_account_id)
        assert policy is not None
        return policy

    @event(SenderPolicySet)
    def _sender_policy_set(
        self,
        policy_id: str,
        effect: Literal["allow", "block"],
        sender_agent_id: str | None,
        sender_account_id: str | None,
        at: datetime,
    ) -> None:
        self.policies = [p for p in self.policies if p["id"] != policy_id]
        self.policies.append(
            {
                "id": policy_id,
                "effect": effect,
                "sender_agent_id": sender_agent_id,
                "sender_account_id": sender_account_id,
                "updated_at": at,
            }
        )

    def policy_for(
        self, sender_agent_id: str | None, sender_account_id: str | None
    ) -> SenderPolicy | None:
        """The policy whose target is exactly this agent xor this account."""
        for policy in self.policies:
            if (
                policy["sender_agent_id"] == sender_agent_id
                and policy["sender_account_id"] == sender_account_id
            ):
                return policy
        return None

    def trust_for(self, sender_agent_id: str, sender_account_id: str) -> tuple[Trust, bool]:
        """Resolve (trust, blocked) for a sender, contract §7.

        Precedence: agent block > account block > agent allow > account allow; with no
        policy a same-account sender is trusted and any other sender is not.
        """
        agent_rule = self.policy_for(sender_agent_id, None)
        account_rule = self.policy_for(None, sender_account_id)
        effects = [rule["effect"] for rule in (agent_rule, account_rule) if rule]
        if "block" in effects:
            return "untrusted", True
        if "allow" in effects:
            return "trusted", False
        return ("trusted" if sender_account_id == self.account_id else "untrusted"), False

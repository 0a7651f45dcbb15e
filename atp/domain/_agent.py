"""Agent: an address, its one active key, its webhook endpoint and its sender policies."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal, NotRequired, TypedDict
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from atp.domain._ids import aggregate_id

__all__ = [
    "ADDRESS_PREFIX",
    "ENDPOINT_KINDS",
    "Agent",
    "SenderPolicy",
    "SigningKey",
    "Trust",
    "WebhookEndpoint",
]

ADDRESS_PREFIX = "atp://agent/"
# How a recipient's endpoint takes its messages: a signed webhook push, or an A2A call.
ENDPOINT_KINDS = ("webhook", "a2a")
Trust = Literal["trusted", "untrusted"]


class SenderPolicy(TypedDict):
    """One recipient-owned rule about a sender agent or a whole sender account."""

    id: str
    effect: Literal["allow", "block"]
    sender_agent_id: str | None
    sender_account_id: str | None
    updated_at: datetime


class WebhookEndpoint(TypedDict):
    """Where pushes go. Secrets are sealed with the carrier's key; never stored in clear."""

    url: str
    active: bool
    sealed_secret: str  # the whsec_ HMAC secret
    sealed_authorization: str | None  # "<scheme> <credentials>" for A2A push receivers
    # "webhook" (a signed push), or "a2a": the recipient is an A2A server, called with
    # SendMessage (atp.wire, send_message_request). Endpoints set before kinds had none.
    kind: NotRequired[str]


class SigningKey(TypedDict):
    """An Ed25519 key that signs pushes (Standard Webhooks ``v1a``)."""

    id: str
    public_key: str  # whpk_…, published to receivers
    sealed_private_key: str  # whsk_…, sealed
    created_at: datetime
    retires_at: datetime | None  # after a rotation, the old key signs until then


class Agent(Aggregate):
    """A registered agent. Its account's actor is its only writer."""

    # Its name in the carrier (``name@ATP_DOMAIN``), if it was given one, and the AMTP
    # schemas it accepts (ids, or prefixes ending in ``*``; none: any message): older
    # agents, and their snapshots, have neither.
    name: str | None = None
    supported_schemas: tuple[str, ...] = ()

    class Registered(Aggregate.Created):
        agent_id: str
        account_id: str
        display_name: str | None
        description: str | None
        key_id: str
        key_hash: str
        at: datetime
        name: str | None = None  # stored since issue 24; absent in older events
        supported_schemas: list[str] | None = None  # likewise

    class KeyRotated(Aggregate.Event):
        key_id: str
        key_hash: str
        at: datetime

    class WebhookEndpointSet(Aggregate.Event):
        url: str
        sealed_secret: str
        sealed_authorization: str | None
        at: datetime
        kind: str = "webhook"  # stored since issue 23; absent in older events

    class WebhookEndpointDisabled(Aggregate.Event):
        reason: str
        at: datetime

    class SigningKeyRotated(Aggregate.Event):
        key_id: str
        public_key: str
        sealed_private_key: str
        previous_retire_at: datetime
        at: datetime

    class Deactivated(Aggregate.Event):
        """Unregistered: its key no longer authenticates and nothing more reaches it;
        its name stays its own (an address is never handed to another agent)."""

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
        name: str | None = None,
        supported_schemas: list[str] | None = None,
    ) -> None:
        self.agent_id = agent_id
        self.supported_schemas = tuple(supported_schemas or ())
        self.account_id = account_id
        self.address = ADDRESS_PREFIX + agent_id
        self.name = name
        self.display_name = display_name
        self.description = description
        self.status = "active"
        # Only one key is active at a time (contract §2.3); revoked keys are kept for audit.
        self.active_key_id: str | None = key_id
        self.key_hashes = {key_id: key_hash}
        self.webhook: WebhookEndpoint | None = None
        self.signing_keys: list[SigningKey] = []
        self.policies: list[SenderPolicy] = []
        self.created_at = at

    @event(KeyRotated)
    def rotate_key(self, key_id: str, key_hash: str, at: datetime) -> None:
        """Revoke every active key and activate a new one; the old token stops at once."""
        self.key_hashes[key_id] = key_hash
        self.active_key_id = key_id

    @event(WebhookEndpointSet)
    def set_webhook_endpoint(
        self,
        url: str,
        sealed_secret: str,
        sealed_authorization: str | None,
        at: datetime,
        kind: str = "webhook",
    ) -> None:
        """Point pushes at ``url``, active, with a freshly generated (sealed) secret."""
        self.webhook = {
            "url": url,
            "active": True,
            "sealed_secret": sealed_secret,
            "sealed_authorization": sealed_authorization,
            "kind": kind,
        }

    @event(Deactivated)
    def deactivate(self, at: datetime) -> None:
        self.status = "inactive"

    def disable_webhook_endpoint(self, url: str, at: datetime) -> bool:
        """Stop pushing to the endpoint at ``url`` (its receiver answered 410 Gone).

        False, and nothing recorded, if it is already off or the agent has since set
        another URL: the 410 was about the old one.
        """
        if not self.webhook_active or self.webhook is None or self.webhook["url"] != url:
            return False
        self._webhook_endpoint_disabled("gone", at)
        return True

    @event(WebhookEndpointDisabled)
    def _webhook_endpoint_disabled(self, reason: str, at: datetime) -> None:
        assert self.webhook is not None
        self.webhook["active"] = False

    @property
    def webhook_active(self) -> bool:
        return self.webhook is not None and self.webhook["active"]

    @property
    def endpoint_kind(self) -> str:
        """How messages are pushed: ``webhook``, or ``a2a`` (the endpoint is an A2A server)."""
        return "webhook" if self.webhook is None else self.webhook.get("kind", "webhook")

    def rotate_signing_key(
        self,
        key_id: str,
        public_key: str,
        sealed_private_key: str,
        overlap_seconds: float,
        at: datetime,
    ) -> SigningKey:
        """Add a signing key; keys signing now keep signing for ``overlap_seconds`` more,
        so receivers can fetch the new public key before the old one stops."""
        retire_at = at + timedelta(seconds=overlap_seconds)
        self._signing_key_rotated(key_id, public_key, sealed_private_key, retire_at, at)
        return self.signing_keys[-1]

    @event(SigningKeyRotated)
    def _signing_key_rotated(
        self,
        key_id: str,
        public_key: str,
        sealed_private_key: str,
        previous_retire_at: datetime,
        at: datetime,
    ) -> None:
        for key in self.signing_keys:
            if key["retires_at"] is None or key["retires_at"] > previous_retire_at:
                key["retires_at"] = previous_retire_at
        self.signing_keys.append(
            {
                "id": key_id,
                "public_key": public_key,
                "sealed_private_key": sealed_private_key,
                "created_at": at,
                "retires_at": None,
            }
        )

    def live_signing_keys(self, now: datetime) -> list[SigningKey]:
        """The keys that sign a push made now (two during a rotation's overlap)."""
        return [k for k in self.signing_keys if k["retires_at"] is None or k["retires_at"] > now]

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

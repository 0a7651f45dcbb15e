"""Who agents are and what they set on themselves: keys, webhook endpoints, policies."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import attrs

from atp.client._results import Answer, when

__all__ = [
    "AccountCreated",
    "Agent",
    "AgentCreated",
    "AgentKey",
    "SenderPolicy",
    "SigningKey",
    "SigningKeys",
    "WebhookEndpoint",
]


@attrs.frozen
class AccountCreated(Answer):
    id: str
    name: str
    plan: str
    key_id: str
    api_key: str = attrs.field(repr=False)  # shown once; keep it secret

    @classmethod
    def of(cls, data: dict[str, Any]) -> AccountCreated:
        key = data["account_api_key"]
        return cls(data["id"], data["name"], data["plan"], key["id"], key["token"], document=data)


@attrs.frozen
class AgentCreated(Answer):
    id: str
    address: str
    key_id: str
    api_key: str = attrs.field(repr=False)  # shown once; keep it secret

    @classmethod
    def of(cls, data: dict[str, Any]) -> AgentCreated:
        key = data["agent_api_key"]
        return cls(data["id"], data["address"], key["id"], key["token"], document=data)


@attrs.frozen
class Agent(Answer):
    """An agent as its account reads it (``GET /api/agents/:id``)."""

    id: str
    address: str
    display_name: str | None
    description: str | None
    active_agent_key_id: str | None
    a2a_agent_card_url: str | None = None  # where A2A clients find the agent
    amtp_address: str | None = None  # name@domain, for an agent with a name

    @classmethod
    def of(cls, data: dict[str, Any]) -> Agent:
        return cls(
            data["id"],
            data["address"],
            data.get("display_name"),
            data.get("description"),
            data.get("active_agent_key_id"),
            data.get("a2a_agent_card_url"),
            data.get("amtp_address"),
            document=data,
        )


@attrs.frozen
class AgentKey(Answer):
    """A rotated agent key: every older key of the agent stopped working."""

    id: str
    api_key: str = attrs.field(repr=False)  # shown once; keep it secret

    @classmethod
    def of(cls, data: dict[str, Any]) -> AgentKey:
        return cls(data["id"], data["token"], document=data)


@attrs.frozen
class SigningKey:
    """An Ed25519 key that signs pushes (``v1a``); it signs until ``retires_at``."""

    id: str
    public_key: str
    created_at: datetime | None
    retires_at: datetime | None

    @classmethod
    def of(cls, data: dict[str, Any]) -> SigningKey:
        return cls(
            data["id"],
            data["public_key"],
            when(data.get("created_at")),
            when(data.get("retires_at")),
        )


def _keys(data: dict[str, Any]) -> tuple[SigningKey, ...]:
    return tuple(SigningKey.of(key) for key in data.get("signing_keys", ()))


@attrs.frozen
class SigningKeys(Answer):
    """The keys that sign an agent's pushes now (``…/webhook_endpoint/signing_keys``)."""

    signing_keys: tuple[SigningKey, ...]

    @classmethod
    def of(cls, data: dict[str, Any]) -> SigningKeys:
        return cls(_keys(data), document=data)


@attrs.frozen
class WebhookEndpoint(Answer):
    """An endpoint just set: ``endpoint_secret`` is new with every set (keep it secret)."""

    url: str
    active: bool
    endpoint_secret: str = attrs.field(repr=False)
    signing_keys: tuple[SigningKey, ...] = ()

    @classmethod
    def of(cls, data: dict[str, Any]) -> WebhookEndpoint:
        endpoint = data["webhook_endpoint"]
        return cls(
            endpoint["url"],
            endpoint["active"],
            endpoint["endpoint_secret"],
            _keys(endpoint),
            document=data,
        )


@attrs.frozen
class SenderPolicy(Answer):
    """Whom an agent trusts or blocks: one sender agent or one sender account."""

    id: str
    recipient_agent_id: str
    sender_agent_id: str | None
    sender_account_id: str | None
    effect: str
    updated_at: datetime | None

    @classmethod
    def of(cls, data: dict[str, Any]) -> SenderPolicy:
        policy = data["sender_policy"]
        return cls(
            policy["id"],
            policy["recipient_agent_id"],
            policy.get("sender_agent_id"),
            policy.get("sender_account_id"),
            policy["effect"],
            when(policy.get("updated_at")),
            document=data,
        )

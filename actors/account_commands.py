"""The account actor's commands: accounts, their agents and those agents' settings.

Declared apart from the other actors' (``atp.actors.commands`` imports them back, so
every command is still found there).
"""

from __future__ import annotations

from typing import Literal, final

import attrs

from atp.actors._idempotency import Ticket

__all__ = [
    "AccountCommand",
    "DeactivateAgent",
    "DisableWebhookEndpoint",
    "EnsureSigningKey",
    "IssueAuditorKey",
    "OpenAccount",
    "RecordPayloadRead",
    "RegisterAgent",
    "RotateAgentKey",
    "RotateSigningKey",
    "SetSenderPolicy",
    "SetWebhookEndpoint",
]


@final
@attrs.frozen
class OpenAccount:
    account_id: str
    name: str


@final
@attrs.frozen
class RegisterAgent:
    account_id: str
    display_name: str | None
    description: str | None
    ticket: Ticket
    # With a name, its id is chosen first, for the name's claim (``ClaimName``).
    agent_id: str | None = None
    name: str | None = None
    supported_schemas: tuple[str, ...] = ()  # AMTP schema ids or patterns it accepts


@final
@attrs.frozen
class RotateAgentKey:
    account_id: str
    agent_id: str
    ticket: Ticket


@final
@attrs.frozen
class SetWebhookEndpoint:
    account_id: str
    agent_id: str
    url: str
    authorization: str | None = attrs.field(repr=False)  # "<scheme> <credentials>"
    ticket: Ticket
    kind: str = "webhook"  # or "a2a": the endpoint is an A2A server


@final
@attrs.frozen
class RotateSigningKey:
    account_id: str
    agent_id: str
    overlap_seconds: float
    ticket: Ticket


@final
@attrs.frozen
class EnsureSigningKey:
    """Give the agent a signing key if it has none live (its receipts are signed with
    it, whether or not it has a webhook endpoint)."""

    account_id: str
    agent_id: str


@final
@attrs.frozen
class DisableWebhookEndpoint:
    """The receiver at ``url`` answered 410 Gone: stop pushing there until the agent
    sets an endpoint again (a different URL set since is left alone)."""

    account_id: str
    agent_id: str
    url: str


@final
@attrs.frozen
class DeactivateAgent:
    """Unregister an agent of the account (AMTP's ``DELETE /v1/admin/agents``)."""

    account_id: str
    agent_id: str
    ticket: Ticket


@final
@attrs.frozen
class SetSenderPolicy:
    account_id: str
    agent_id: str
    effect: Literal["allow", "block"]
    sender_agent_id: str | None
    sender_account_id: str | None
    ticket: Ticket


@final
@attrs.frozen
class IssueAuditorKey:
    account_id: str
    ticket: Ticket


@final
@attrs.frozen
class RecordPayloadRead:
    """An auditor read a payload: the account records it before the answer goes out."""

    account_id: str
    key_id: str
    message_id: str


AccountCommand = (
    OpenAccount
    | IssueAuditorKey
    | RecordPayloadRead
    | RegisterAgent
    | RotateAgentKey
    | SetWebhookEndpoint
    | RotateSigningKey
    | EnsureSigningKey
    | DisableWebhookEndpoint
    | SetSenderPolicy
    | DeactivateAgent
)

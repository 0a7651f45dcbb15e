"""What an agent's outgoing calls are signed with: the secrets of its own webhooks.

A push to an agent's endpoint and a delivery receipt to the agent as a sender are both
signed with the agent's material: the endpoint secret (HMAC ``v1``, and the
reference's ``atp-signature``) when it has an endpoint, and every signing key live now
(Ed25519 ``v1a``, two during a rotation's overlap). One place unseals them.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from atp.domain import Agent

__all__ = ["signing_secrets"]


def signing_secrets(
    agent: Agent, unseal: Callable[[str], bytes], now: datetime
) -> tuple[str | None, list[str]]:
    """The agent's endpoint secret (None without an endpoint) and its live signing keys,
    unsealed, for ``atp.webhooks.standard_headers``."""
    endpoint = agent.webhook
    secret = None if endpoint is None else unseal(endpoint["sealed_secret"]).decode()
    keys = [unseal(key["sealed_private_key"]).decode() for key in agent.live_signing_keys(now)]
    return secret, keys

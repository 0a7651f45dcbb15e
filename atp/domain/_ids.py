"""Identifiers and tokens in the contract's formats, and their ledger ids.

Wire ids are ``<prefix>_`` + base64url(16 random bytes) and tokens ``<prefix>_`` +
base64url(32 random bytes) (wire-contract, conventions). The ledger keys every
aggregate by a UUID derived from its wire id (uuid5), so a wire id is enough to load
an aggregate, and an idempotency record's id follows from its scope alone: the
store's uniqueness on (id, version) then makes a second record impossible.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import uuid

__all__ = [
    "AGENT_ID_PREFIX",
    "aggregate_id",
    "derived_id",
    "new_id",
    "new_token",
    "remote_account_id",
    "remote_agent_id",
    "token_hash",
]

AGENT_ID_PREFIX = "agt_"
"""Every agent id starts so (``new_id("agt")``)."""

_NAMESPACE = uuid.UUID("6f1c2b1e-3d5a-4c8e-9a47-0b2f7e5d1a93")


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def new_id(prefix: str) -> str:
    """A fresh wire id such as ``msg_3q2-…`` (22 characters after the prefix)."""
    return f"{prefix}_{_b64(secrets.token_bytes(16))}"


def derived_id(prefix: str, seed: str) -> str:
    """A wire id in ``new_id``'s format that ``seed`` alone decides: the same request
    retried names the same thing."""
    return f"{prefix}_{_b64(hashlib.sha256(seed.encode()).digest()[:16])}"


def remote_agent_id(address: str) -> str:
    """The id a sender at another domain's gateway has here: no agent of this carrier,
    but a stable name for it in messages, sender policies and the audit log."""
    return derived_id("agt", f"amtp:{address.lower()}")


def remote_account_id(domain: str) -> str:
    """The id another domain has here, as the account of its senders (and of its
    gateway, which reports failed deliveries): its senders share its unknown-sender
    limit, and a recipient may block the whole domain."""
    return derived_id("acct", f"amtp-domain:{domain.lower()}")


def new_token(prefix: str) -> str:
    """A fresh secret such as ``agk_…`` (43 characters after the prefix)."""
    return f"{prefix}_{_b64(secrets.token_bytes(32))}"


def token_hash(token: str) -> str:
    """Lower-hex SHA-256 of a token: the only form in which a key is stored."""
    return hashlib.sha256(token.encode()).hexdigest()


def aggregate_id(wire_id: str) -> uuid.UUID:
    """The ledger id of the aggregate that a wire id names."""
    return uuid.uuid5(_NAMESPACE, wire_id)

"""The command of a name's actor: claim it for an agent about to be registered."""

from __future__ import annotations

from typing import final

import attrs

__all__ = ["ClaimName", "NameCommand"]


@final
@attrs.frozen
class ClaimName:
    """Hold ``name`` for ``agent_id`` (whose registration comes next)."""

    name: str
    agent_id: str
    account_id: str


NameCommand = ClaimName

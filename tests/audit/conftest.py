from __future__ import annotations

import attrs
import pytest

from atp.settings import Settings


@pytest.fixture
def follower() -> str:
    """Where the audit follower runs (a module runs its tests with both by overriding
    this with a parametrized fixture)."""
    return "inline"


@pytest.fixture
def settings(settings: Settings, follower: str) -> Settings:
    """Checkpoints every 0.2 s while events arrive, so tests need not wait 10 s; webhooks
    may reach the tests' receivers on loopback."""
    return attrs.evolve(
        settings, audit_checkpoint_interval=0.2, webhook_allow_private=True,
        audit_follower=follower,
    )  # fmt: skip

"""Agent names: what the carrier takes, and when a claim whose agent never came to be
may be claimed again."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from atp.domain import ORPHANED_AFTER, AgentName, check_name
from atp.errors import InvalidRequest

NOW = datetime(2026, 12, 7, 18, 0, tzinfo=UTC)


def test_names_are_kept_in_lower_case_and_checked() -> None:
    assert check_name(" Bob.Builder ") == "bob.builder"
    assert check_name("a") == "a"
    assert check_name("x" * 64) == "x" * 64
    for bad in ("", ".a", "a.", "a b", "a@b", "x" * 65, None, 3):
        with pytest.raises(InvalidRequest):
            check_name(bad)


def test_a_claim_is_orphaned_only_when_its_agent_never_came_and_it_is_old() -> None:
    name = AgentName(name="carol", agent_id="agt_1", account_id="acct_1", at=NOW)
    assert name.id == AgentName.create_id("carol")
    assert not name.orphaned(agent_registered=False, now=NOW + timedelta(seconds=1))
    assert not name.orphaned(agent_registered=True, now=NOW + timedelta(days=1))
    assert name.orphaned(agent_registered=False, now=NOW + ORPHANED_AFTER)
    name.reclaim("agt_2", "acct_2", NOW + ORPHANED_AFTER)
    assert (name.agent_id, name.account_id) == ("agt_2", "acct_2")
    assert not name.orphaned(agent_registered=False, now=NOW + ORPHANED_AFTER)

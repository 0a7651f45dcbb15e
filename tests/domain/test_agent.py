"""Agent and Account aggregates: keys, sender-policy precedence, plan limits."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from atp.domain import Account, Agent
from atp.errors import PlanLimitExceeded

NOW = datetime(2026, 5, 27, 12, 0, tzinfo=UTC)


def agent(account_id: str = "acct_r") -> Agent:
    return Agent(
        agent_id="agt_r", account_id=account_id, display_name=None, description=None,
        key_id="agtkey_1", key_hash="h1", at=NOW,
    )  # fmt: skip


def test_rotation_keeps_exactly_one_active_key() -> None:
    a = agent()
    a.rotate_key("agtkey_2", "h2", NOW)
    assert a.active_key_id == "agtkey_2"
    assert a.key_hashes == {"agtkey_1": "h1", "agtkey_2": "h2"}


def test_policy_upsert_keeps_the_policy_id() -> None:
    a = agent()
    first = a.set_sender_policy("spol_1", "allow", "agt_s", None, NOW)
    second = a.set_sender_policy("spol_2", "block", "agt_s", None, NOW)
    assert first["id"] == second["id"] == "spol_1"
    assert len(a.policies) == 1 and a.policies[0]["effect"] == "block"


@pytest.mark.parametrize(
    ("policies", "sender_account", "expected"),
    [
        ([], "acct_r", ("trusted", False)),
        ([], "acct_other", ("untrusted", False)),
        ([("block", "agent")], "acct_r", ("untrusted", True)),
        ([("block", "account")], "acct_r", ("untrusted", True)),
        ([("allow", "agent")], "acct_other", ("trusted", False)),
        ([("allow", "account")], "acct_other", ("trusted", False)),
        ([("allow", "agent"), ("block", "account")], "acct_other", ("untrusted", True)),
        ([("block", "agent"), ("allow", "account")], "acct_other", ("untrusted", True)),
    ],
)
def test_trust_precedence(
    policies: list[tuple[str, str]], sender_account: str, expected: tuple[str, bool]
) -> None:
    a = agent()
    for n, (effect, target) in enumerate(policies):
        sender_agent = "agt_s" if target == "agent" else None
        sender_acct = sender_account if target == "account" else None
        a.set_sender_policy(f"spol_{n}", effect, sender_agent, sender_acct, NOW)  # type: ignore[arg-type]
    assert a.trust_for("agt_s", sender_account) == expected


def test_plan_limit_refusal_records_nothing() -> None:
    account = Account(account_id="acct_1", name="n", plan="free", key_id="k", key_hash="h", at=NOW)
    account.admit_agent("agt_1", 2)
    account.admit_agent("agt_2", 2)
    account.collect_events()
    with pytest.raises(PlanLimitExceeded):
        account.admit_agent("agt_3", 2)
    assert account.collect_events() == []
    assert account.agent_ids == ["agt_1", "agt_2"]


def test_a_410_disables_only_the_endpoint_that_answered_it() -> None:
    a = agent()
    a.set_webhook_endpoint("https://old.example/hook", "sealed", None, NOW)
    a.set_webhook_endpoint("https://new.example/hook", "sealed", None, NOW)
    # A 410 from the old receiver, reported after the agent moved: nothing changes.
    assert not a.disable_webhook_endpoint("https://old.example/hook", NOW)
    assert a.webhook_active
    assert a.disable_webhook_endpoint("https://new.example/hook", NOW)
    assert not a.webhook_active
    assert not a.disable_webhook_endpoint("https://new.example/hook", NOW)  # already off

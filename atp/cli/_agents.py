"""An alias's agent as the carrier knows it: ``agent show`` and ``agent rotate-key``.

Both act with the account's key, as the API asks. A rotated key is stored under the
alias, never printed. Its idempotency key names the key it replaces
(``cli-agent-rotate-key-<alias>-<old key id>``): if the answer is lost, or the CLI stops
before the new key is stored, running the command again replays the same new key
instead of rotating once more and losing it; once stored, the next run rotates anew.
"""

from __future__ import annotations

import attrs

from atp.cli._context import Context
from atp.cli._home import AliasKey
from atp.cli._output import as_json
from atp.client import calls

__all__ = ["agent_rotate_key", "agent_show"]


def agent_show(ctx: Context, alias: str) -> None:
    """The agent behind ``alias``: its address, names and which key is active."""
    entry = ctx.alias(alias)
    credentials = ctx.home.credentials()
    with ctx.client() as client:
        agent = client.agent(entry.agent_id, token=credentials.account_token)
    stored = credentials.agents.get(alias)
    if stored is None:
        key = f"none (run `atp agent rotate-key {alias}` for one)"
    elif stored.agent_key_id == agent.active_agent_key_id:
        key = f"{stored.agent_key_id} (active)"
    else:
        key = f"{stored.agent_key_id} (no longer works: run `atp agent rotate-key {alias}`)"
    ctx.out.report(
        [
            f"Alias: {alias}",
            f"Agent: {agent.id}",
            f"Address: {agent.address}",
            f"Display name: {agent.display_name or '-'}",
            f"Description: {agent.description or '-'}",
            f"Active key: {agent.active_agent_key_id or '-'}",
            f"Stored key: {key}",
        ],
        {**as_json(agent), "alias": alias},
    )


def agent_rotate_key(ctx: Context, alias: str) -> None:
    """Give ``alias`` a new key and store it; every older key stops working at once."""
    entry = ctx.alias(alias)
    credentials = ctx.home.credentials()
    old = credentials.agents.get(alias)
    call = calls.rotate_agent_key(credentials.account_token, entry.agent_id)
    replaced = old.agent_key_id if old is not None else "none"
    call = attrs.evolve(call, idempotency_key=f"cli-agent-rotate-key-{alias}-{replaced}")
    with ctx.client() as client:
        key = client.call(call)
    stored = AliasKey(key.id, key.api_key)
    if old is not None:
        stored = attrs.evolve(old, agent_key_id=key.id, agent_token=key.api_key)
    ctx.home.save(
        ctx.config, attrs.evolve(credentials, agents={**credentials.agents, alias: stored})
    )
    path = ctx.home.credentials_path
    ctx.out.report(
        [
            "Agent key rotated.",
            f"Alias: {alias}",
            f"Key: {key.id}",
            f"Credentials: {path} (token stored locally, not printed)",
            "Every older key of this agent stopped working.",
        ],
        {**as_json(key), "alias": alias, "credentials": str(path)},
    )

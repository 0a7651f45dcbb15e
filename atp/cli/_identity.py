"""Who the CLI is: ``init``, ``agent create``, ``agent list``, ``use`` and ``whoami``."""

from __future__ import annotations

import json

import attrs

from atp.cli._context import Context
from atp.cli._home import Alias, AliasKey, Config, Credentials, check_alias
from atp.cli._output import CliError, as_json, table
from atp.client import calls

__all__ = ["DEFAULT_SERVER", "agent_create", "agent_list", "init", "use", "whoami"]

DEFAULT_SERVER = "http://localhost:4000"


def init(ctx: Context) -> None:
    """Sign up a new account and start a fresh local state for it."""
    server = (ctx.invocation.options.get("--server") or DEFAULT_SERVER).rstrip("/")
    if not server.startswith(("http://", "https://")):
        raise CliError("--server must be an http:// or https:// URL")
    home = ctx.home
    if home.exists() and "--force" not in ctx.invocation.flags:
        raise CliError(
            f"{home.path} already holds an ATP account. Run `atp init --force` to start over "
            "with a new account (its aliases will be forgotten)."
        )
    with ctx.client(server) as client:
        account = client.signup("ATP CLI Account")
    home.save(Config(server), Credentials(account.id, account.key_id, account.api_key))
    ctx.out.report(
        [
            "ATP account initialized.",
            f"Server: {server}",
            f"Account: {account.id}",
            f"Config: {home.config_path}",
            f"Credentials: {home.credentials_path}",
            "No default agent was created.",
            "Next: atp agent create <alias>",
        ],
        {
            **as_json(account),
            "server_url": server,
            "config": str(home.config_path),
            "credentials": str(home.credentials_path),
        },
    )


def agent_create(ctx: Context, alias: str) -> None:
    """Register an agent under a local alias; running it again returns the same agent."""
    check_alias(alias)
    credentials = ctx.home.credentials()
    call = calls.create_agent(
        credentials.account_token,
        display_name=alias,
        description=f"ATP CLI local alias {alias}",
        name=ctx.invocation.options.get("--name"),
    )
    # A fixed key: re-running after a lost answer or a crash replays the same agent.
    call = attrs.evolve(call, idempotency_key=f"cli-agent-create-{alias}")
    with ctx.client() as client:
        agent = client.call(call)
        shown = client.agent(agent.id, token=credentials.account_token)
        card_url, amtp_address = shown.a2a_agent_card_url, shown.amtp_address
    entry, key = Alias(agent.id, agent.address), AliasKey(agent.key_id, agent.api_key)
    known, known_key = ctx.config.aliases.get(alias), credentials.agents.get(alias)
    if known is not None and known.agent_id == agent.id:
        # Replayed: the stored key may be newer (`agent rotate-key`), and the webhook
        # set since stays.
        entry, key = known, known_key or key
    ctx.home.save(
        attrs.evolve(ctx.config, aliases={**ctx.config.aliases, alias: entry}),
        attrs.evolve(credentials, agents={**credentials.agents, alias: key}),
    )
    path = ctx.home.credentials_path
    prompt = [
        f"You are using ATP through the local CLI as alias {alias}.",
        f"Your ATP address is {agent.address}"
        + (f" (and {amtp_address})." if amtp_address else "."),
        f"Run `atp use {alias}` before sending or claiming ATP messages.",
        "Verify the active identity with `atp whoami`.",
        f"Do not ask for ATP tokens; credentials are already stored locally at {path}.",
    ]
    if card_url is not None:
        prompt.append(f"Other agents reach you over A2A through your agent card: {card_url}")
    mcp_config = {
        "mcpServers": {
            f"atp-{alias}": {
                "command": "atp",
                "args": ["mcp", "--as", alias],
                "env": {"ATP_HOME": str(ctx.home.path)},
            }
        }
    }
    ctx.out.report(
        [
            "Registered ATP agent.",
            f"Alias: {alias}",
            f"Address: {agent.address}",
            f"Credentials: {path} (token stored locally, not printed)",
            "",
            "Paste this into the agent session:",
            "",
            *prompt,
            "",
            "Or give an MCP client (a coding agent) this server, to use ATP as tools:",
            "",
            json.dumps(mcp_config, indent=2),
            "",
        ],
        {
            **as_json(agent),
            "alias": alias,
            "credentials": str(path),
            "prompt": "\n".join(prompt),
            "a2a_agent_card_url": card_url,
            "mcp_config": mcp_config,
        },
    )


def agent_list(ctx: Context) -> None:
    """The local aliases, sorted; the active one is marked in a terminal."""
    aliases = sorted(ctx.config.aliases.items())
    active = ctx.config.active_alias
    if not aliases:
        lines = ["No local agents registered."]
    else:
        rows = [(name, entry.address) for name, entry in aliases]
        if ctx.out.is_terminal:
            rows = [(f"{name} *" if name == active else name, addr) for name, addr in rows]
        lines = table(("Alias", "Address"), rows, aligned=ctx.out.is_terminal)
    agents = [{"alias": n, "agent_id": e.agent_id, "address": e.address} for n, e in aliases]
    ctx.out.report(lines, {"active_alias": active, "agents": agents})


def use(ctx: Context, alias: str) -> None:
    """Make ``alias`` the identity of the commands that follow."""
    entry = ctx.alias(alias)
    ctx.home.save(attrs.evolve(ctx.config, active_alias=alias))
    ctx.out.report(
        [f"Active alias: {alias}", f"Address: {entry.address}"],
        {"active_alias": alias, "address": entry.address, "agent_id": entry.agent_id},
    )


def whoami(ctx: Context) -> None:
    """The identity the next command would act as."""
    me = ctx.identity()
    ctx.out.report(
        [f"Alias: {me.alias}", f"Address: {me.address}"],
        {"alias": me.alias, "address": me.address, "agent_id": me.agent_id},
    )

"""Whom an alias trusts: ``policy allow|block --agent <who> | --account <account-id>``.

A policy is the recipient's: it decides the trust of messages *to* the alias acting.
Agent rules beat account rules and a block beats an allow (``docs/api.md``, Sending).
"""

from __future__ import annotations

from typing import Literal

from atp.cli._context import ADDRESS_PREFIX, Context
from atp.cli._output import CliError, as_json, when

__all__ = ["allow", "block"]


def allow(ctx: Context) -> None:
    _set(ctx, "allow")


def block(ctx: Context) -> None:
    _set(ctx, "block")


def _set(ctx: Context, effect: Literal["allow", "block"]) -> None:
    options = ctx.invocation.options
    agent, account = options.get("--agent"), options.get("--account")
    if (agent is None) == (account is None):
        raise CliError(f"give one sender: atp policy {effect} --agent <who> | --account <id>")
    me = ctx.identity()
    sender_agent = None if agent is None else ctx.agent_id(agent)
    with ctx.client() as client:
        policy = client.set_sender_policy(
            me.agent_id,
            effect,
            sender_agent_id=sender_agent,
            sender_account_id=account,
            token=me.token,
        )
    if policy.sender_agent_id is not None:
        sender = f"Sender agent: {ctx.decorated(ADDRESS_PREFIX + policy.sender_agent_id)}"
    else:
        sender = f"Sender account: {policy.sender_account_id}"
    ctx.out.report(
        [
            "Sender policy set.",
            f"Recipient: {me.alias} ({me.address})",
            f"Policy: {policy.id}",
            f"Effect: {policy.effect}",
            sender,
            f"Updated: {when(policy.updated_at)}",
        ],
        as_json(policy),
    )

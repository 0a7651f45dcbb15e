"""Identities: who is who, as committed: tokens to principals, agents (by id and by
name) and accounts.

Every request authenticates and every send resolves its recipient, so this is a
process-wide cache in front of the ledger. Account actors are the only writers of
accounts and agents; they publish a copy of each aggregate here right after its
commit, so readers see committed state only, and never a stale one: a copy loaded
from the ledger on a miss is kept only if nothing newer was published meanwhile.
"""

from __future__ import annotations

import copy
from collections import OrderedDict
from typing import TYPE_CHECKING, Literal, TypeVar

import attrs

from atp.domain import Account, Agent, AgentName, aggregate_id, token_hash
from atp.ledger import Ledger

if TYPE_CHECKING:
    from atp.projections import ProjectionRunner, Queries

__all__ = ["Identities", "Principal"]

V = TypeVar("V")
A = TypeVar("A", Account, Agent)


@attrs.frozen
class Principal:
    """The authenticated caller: an account key or an agent key."""

    kind: Literal["account", "agent", "auditor"]
    account_id: str
    agent_id: str | None = None
    key_id: str | None = None  # an auditor's key (its reads of payloads are recorded)

    @property
    def id(self) -> str:
        """The principal's own id (its agent id, or its account id)."""
        return self.agent_id or self.account_id


class Identities:
    """Committed accounts and agents, and which principal each token belongs to."""

    def __init__(
        self, ledger: Ledger, queries: Queries, projections: ProjectionRunner, size: int = 4096
    ) -> None:
        self._ledger = ledger
        self._queries = queries
        self._projections = projections
        self._size = size
        self._agents: OrderedDict[str, Agent] = OrderedDict()
        self._accounts: OrderedDict[str, Account] = OrderedDict()
        self._tokens: OrderedDict[str, Principal] = OrderedDict()
        self._names: OrderedDict[str, str] = OrderedDict()  # agent name -> agent id

    # -- reads --------------------------------------------------------------------------

    async def principal(self, token: str) -> Principal | None:
        """Who a bearer token belongs to, or None (unknown, revoked, or agent not active)."""
        digest = token_hash(token)
        principal = self._tokens.get(digest)
        if principal is None:
            # Not published in this process (or evicted): ask the views, once they are current.
            await self._projections.wait_current()
            owner = await self._queries.key_owner(digest)
            if owner is None:
                return None
            kind: Literal["account", "agent", "auditor"] = (
                "auditor"
                if owner.kind == "auditor"
                else "account"
                if owner.kind == "account"
                else "agent"
            )
            key_id = owner.key_id if kind == "auditor" else None
            principal = Principal(kind, owner.account_id, owner.agent_id, key_id)
            _put(self._tokens, digest, principal, self._size)
        if principal.agent_id is not None:
            agent = await self.agent(principal.agent_id)
            if (
                agent is None
                or agent.status != "active"
                or agent.key_hashes.get(agent.active_key_id or "") != digest
            ):
                return None
        return principal

    async def agent(self, agent_id: str) -> Agent | None:
        """The committed agent, or None."""
        return await self._cached(self._agents, Agent, agent_id)

    async def named(self, name: str) -> Agent | None:
        """The registered agent that holds ``name``, or None. A registered agent keeps
        its name for good (only a claim whose agent never came to be is claimed again),
        so which agent holds it is kept once found."""
        agent_id = self._names.get(name)
        if agent_id is not None:
            return await self.agent(agent_id)
        holder = await self._ledger.get(AgentName, AgentName.create_id(name))
        agent = None if holder is None else await self.agent(holder.agent_id)
        if agent is None or agent.name != name:
            return None
        _put(self._names, name, agent.agent_id, self._size)
        return agent

    async def account(self, account_id: str) -> Account | None:
        """The committed account, or None."""
        return await self._cached(self._accounts, Account, account_id)

    async def _cached(self, cache: OrderedDict[str, A], cls: type[A], wire_id: str) -> A | None:
        found = cache.get(wire_id)
        if found is not None:
            return found
        loaded = await self._ledger.get(cls, aggregate_id(wire_id))
        if loaded is None:
            return None
        # Published while we were loading? Then the published copy is at least as new.
        newer = cache.get(wire_id)
        if newer is not None and newer.version >= loaded.version:
            return newer
        _put(cache, wire_id, loaded, self._size)
        return loaded

    # -- writes (account actors, after commit) -------------------------------------------

    def publish_agent(self, agent: Agent) -> None:
        """Make a committed agent visible; its active key authenticates, revoked ones don't."""
        _put(self._agents, agent.agent_id, copy.deepcopy(agent), self._size)
        for key_id, digest in agent.key_hashes.items():
            if key_id == agent.active_key_id:
                _put(
                    self._tokens,
                    digest,
                    Principal("agent", agent.account_id, agent.agent_id),
                    self._size,
                )
            else:
                self._tokens.pop(digest, None)

    def publish_account(self, account: Account) -> None:
        """Make a committed account (and its account keys) visible."""
        _put(self._accounts, account.account_id, copy.deepcopy(account), self._size)
        for digest in account.key_hashes.values():
            _put(self._tokens, digest, Principal("account", account.account_id), self._size)


def _put(cache: OrderedDict[str, V], key: str, value: V, size: int) -> None:
    cache[key] = value
    cache.move_to_end(key)
    if len(cache) > size:
        cache.popitem(last=False)

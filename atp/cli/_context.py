"""What every client command works with: the command line, the local state and the server.

Identity and addressing follow the reference CLI: ``--as`` picks an alias for one
command, else the active one; a recipient is a local alias or a raw
``atp://agent/...`` address; addresses print as their alias where one is known.
"""

from __future__ import annotations

import uuid
from typing import Any

import attrs

from atp.cli._args import Invocation
from atp.cli._home import Alias, Config, Home
from atp.cli._output import CliError, Output
from atp.client import Client
from atp.settings import CliSettings

__all__ = ["ADDRESS_PREFIX", "Context", "Identity", "text_payload"]

ADDRESS_PREFIX = "atp://agent/"


@attrs.frozen
class Identity:
    """The alias a command acts as, and its key (never printed)."""

    alias: str
    address: str
    agent_id: str
    token: str = attrs.field(repr=False)


def text_payload(
    text: str, *, agent: bool = False, message_id: str | None = None
) -> dict[str, Any]:
    """An A2A message holding ``text``: from a user, or (``agent``) an agent's answer."""
    message_id = message_id or f"cli-msg-{uuid.uuid4().hex}"
    payload: dict[str, Any] = {"messageId": message_id, "role": "ROLE_USER"}
    if agent:
        payload.update(role="ROLE_AGENT", contextId=f"ctx_{message_id}")
    payload["parts"] = [{"text": text}]
    return payload


class Context:
    """One run of a client command."""

    def __init__(self, invocation: Invocation, settings: CliSettings, out: Output) -> None:
        self.invocation = invocation
        self.settings = settings
        self.home = Home(settings.home)
        self.out = out
        self._config: Config | None = None

    @property
    def config(self) -> Config:
        if self._config is None:
            self._config = self.home.config()
        return self._config

    def client(self, server_url: str | None = None) -> Client:
        return Client(server_url or self.config.server_url)

    def identity(self) -> Identity:
        """The alias this command acts as, with its stored key."""
        alias = self.invocation.options.get("--as") or self.config.active_alias
        if alias is None:
            raise CliError("no active alias. Run `atp use <alias>`.")
        entry = self.config.aliases.get(alias)
        key = self.home.credentials().agents.get(alias)
        if entry is None or key is None:
            raise CliError(
                f"no stored credentials for alias {alias}. Run `atp agent create {alias}`."
            )
        return Identity(alias, entry.address, entry.agent_id, key.agent_token)

    def alias(self, name: str) -> Alias:
        entry = self.config.aliases.get(name)
        if entry is None:
            raise CliError(f"unknown alias {name}")
        return entry

    def resolve(self, recipient: str) -> tuple[str, bool]:
        """The address of a local alias or raw address, and whether it was an alias."""
        entry = self.config.aliases.get(recipient)
        if entry is not None:
            return entry.address, True
        if recipient.startswith(ADDRESS_PREFIX) or "@" in recipient:  # name@domain too
            return recipient, False
        raise CliError(
            f"unknown recipient {recipient}. Use a local alias or atp://agent/... address,"
            " or an agent's name@domain."
        )

    def agent_id(self, who: str) -> str:
        """The agent id of a local alias, an ``atp://agent/`` address or an ``agt_`` id."""
        entry = self.config.aliases.get(who)
        if entry is not None:
            return entry.agent_id
        agent_id = who.removeprefix(ADDRESS_PREFIX)
        if agent_id.startswith("agt_"):
            return agent_id
        raise CliError(
            f"unknown agent {who}. Use a local alias, an atp://agent/... address or agt_ id."
        )

    def name_of(self, address: str) -> str | None:
        """The local alias of ``address``, if there is one."""
        for name, entry in self.config.aliases.items():
            if entry.address == address:
                return name
        return None

    def decorated(self, address: str) -> str:
        """``alias (address)`` for a known address, else the address."""
        name = self.name_of(address)
        return address if name is None else f"{name} ({address})"

    def short(self, address: str) -> str:
        """The alias of a known address, else the address (for tables)."""
        return self.name_of(address) or address

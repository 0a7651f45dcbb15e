"""``atp agent create --name``, and ``atp send`` to a name@domain address."""

from __future__ import annotations

import json

import attrs
import pytest

from atp.settings import Settings
from tests.support.cli_process import Cli, field


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return attrs.evolve(settings, agents_per_account={"free": 3})


async def test_a_named_alias_is_reached_at_its_name(local_cli: Cli) -> None:
    created = await local_cli("agent", "create", "carol", "--name", "Carol")
    assert "carol@localhost" in created.out
    shown = json.loads((await local_cli("agent", "show", "carol", "--json")).out)
    assert shown["amtp_address"] == "carol@localhost"
    await local_cli("send", "carol@localhost", "hello by name")
    claimed = await local_cli("inbox", "--as", "carol")
    assert field(claimed.out, "Text") == "hello by name"
    refused = await local_cli("send", "nobody@localhost", "hi", code=1)
    assert "recipient_not_found" in refused.err + refused.out

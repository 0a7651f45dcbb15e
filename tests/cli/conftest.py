"""The CLI tests' carrier process and a CLI with two aliases on it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.cli.cli_process import Cli, with_aliases
from tests.subprocess_server import ServerProcess, server_env
from tests.webhooks.receivers import Receiver, open_receiver


@pytest.fixture
async def server(
    store: str, tmp_path: Path, request: pytest.FixtureRequest
) -> AsyncIterator[ServerProcess]:
    env = server_env(store, tmp_path, request)
    env["ATP_WEBHOOK_ALLOW_PRIVATE"] = "1"  # the webhook commands' receivers are on loopback
    async with ServerProcess(env, tmp_path) as server:
        await server.start()
        yield server


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    """A webhook receiver on loopback (answers 200 unless scripted)."""
    async with open_receiver() as r:
        yield r


@pytest.fixture
async def cli(server: ServerProcess, tmp_path: Path) -> Cli:
    """A CLI with an account on ``server`` and the aliases alpha (active) and beta."""
    return await with_aliases(Cli(tmp_path / "home"), server.base_url + "/")

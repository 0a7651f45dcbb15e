"""The CLI tests' carriers (a process, or one served from the test's loop) and CLIs on them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import attrs
import pytest

from atp.settings import Settings
from tests.support.cli_process import Cli, InProcessCli, with_aliases
from tests.support.subprocess_server import ServerProcess, server_env


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
async def cli(server: ServerProcess, tmp_path: Path) -> Cli:
    """A CLI with an account on ``server`` and the aliases alpha (active) and beta."""
    return await with_aliases(Cli(tmp_path / "home"), server.base_url + "/")


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The in-process carrier's: the webhook commands' receivers are on loopback."""
    return attrs.evolve(settings, webhook_allow_private=True)


@pytest.fixture
async def local_cli(base_url: str, tmp_path: Path) -> Cli:
    """``main()`` in a thread, with alpha (active) and beta, on the in-process carrier."""
    return await with_aliases(InProcessCli(tmp_path / "home"), base_url)

"""The CLI tests' carrier process and a CLI with two aliases on it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.cli.cli_process import Cli, with_aliases
from tests.subprocess_server import ServerProcess, server_env


@pytest.fixture
async def server(
    store: str, tmp_path: Path, request: pytest.FixtureRequest
) -> AsyncIterator[ServerProcess]:
    async with ServerProcess(server_env(store, tmp_path, request), tmp_path) as server:
        await server.start()
        yield server


@pytest.fixture
async def cli(server: ServerProcess, tmp_path: Path) -> Cli:
    """A CLI with an account on ``server`` and the aliases alpha (active) and beta."""
    return await with_aliases(Cli(tmp_path / "home"), server.base_url + "/")

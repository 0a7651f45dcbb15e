"""A whole carrier on Trio's mock clock: ledger, actors, dispatcher and HTTP API.

The clock jumps only after 50 ms of real quiet, so store threads and loopback sockets
finish before time moves, while hours of retries, leases and expiries take
milliseconds. A test takes the ``clock`` fixture as an argument (that is how
pytest-trio finds it) and opens the carrier with ``open_carrier``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import trio
from trio.testing import MockClock

from atp.actors import Runtime
from atp.serve import open_runtime, serve_http
from atp.settings import Settings
from tests.support.helpers import Api

__all__ = ["EPOCH", "clock", "open_carrier"]

EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
def clock() -> MockClock:
    return MockClock(autojump_threshold=0.05)


@asynccontextmanager
async def open_carrier(settings: Settings) -> AsyncIterator[tuple[Api, Runtime]]:
    """The carrier with its wall clock on the mock clock, and a client for its API."""
    async with open_runtime(settings) as runtime, trio.open_nursery() as nursery:
        runtime.context.now = lambda: EPOCH + timedelta(seconds=trio.current_time())
        shutdown = trio.Event()
        binds = await nursery.start(serve_http, runtime, shutdown)
        async with httpx.AsyncClient(base_url=binds[0], timeout=None) as http:
            yield Api(http), runtime
        shutdown.set()

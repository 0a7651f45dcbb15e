"""Fixtures: a carrier on each store, a real Hypercorn on an ephemeral port, an httpx client.

PostgreSQL tests use ``ATP_TEST_DATABASE_URL`` and a fresh schema per test. Without
the variable they are skipped, unless ``ATP_REQUIRE_POSTGRES=1`` (CI sets it), which
turns the missing database into a failure: CI can never pass on SQLite alone.
"""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import psycopg
import pytest
import trio

from atp.actors import Runtime
from atp.projections import apply_migrations, open_view_store
from atp.serve import open_runtime, serve_http
from atp.settings import Settings
from tests.support.helpers import AUDIT_KEY, Api
from tests.support.receivers import Receiver, open_receiver

STORES = ["sqlite", "postgres"]
# Fixtures of these modules, for every test: dns, own_postgres, clock (the mock clock).
pytest_plugins = ["tests.support.fake_dns", "tests.support.pg_cluster", "tests.support.mock_clock"]


def _postgres_url() -> str | None:
    url = os.environ.get("ATP_TEST_DATABASE_URL")
    if not url:
        if os.environ.get("ATP_REQUIRE_POSTGRES") == "1":
            pytest.fail("ATP_REQUIRE_POSTGRES=1 but ATP_TEST_DATABASE_URL is not set")
        pytest.skip("PostgreSQL tests need ATP_TEST_DATABASE_URL")
    return url


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A PostgreSQL URL whose ``?schema=`` is a fresh, empty schema (dropped afterwards)."""
    base = _postgres_url()
    assert base is not None
    schema = "atp_test_" + secrets.token_hex(6)
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    sep = "&" if "?" in base else "?"
    try:
        yield f"{base}{sep}schema={schema}"
    finally:
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture(autouse=True)
def _no_hypercorn_handlers() -> Iterator[None]:
    """A stock Hypercorn ``Config`` (some tests serve small apps with one) adds a stderr
    handler to the global ``hypercorn.*`` loggers; the carrier gives Hypercorn its logger
    without one (``serve_http``). Each test starts without them, as a carrier would."""
    yield
    for name in ("hypercorn.error", "hypercorn.access"):
        logging.getLogger(name).handlers.clear()


@pytest.fixture(params=STORES)
def store(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest.fixture
def settings(store: str, tmp_path: Path, request: pytest.FixtureRequest) -> Settings:
    """Settings for a fresh carrier on ``store``. Its audit follower runs in the test's
    process (a child process for each of them would cost a second of CPU each;
    ``tests/audit`` runs the API's audit tests with both)."""
    if store == "sqlite":
        return Settings(
            data_dir=tmp_path / "var", port=0, actor_idle_timeout=5.0, audit_follower="inline"
        )
    url: str = request.getfixturevalue("postgres_url")
    settings = Settings(
        data_dir=tmp_path / "var", port=0, database_url=url, secret_key="test-secret-key",
        audit_signing_key=AUDIT_KEY,
        actor_idle_timeout=5.0, audit_follower="inline",
    )  # fmt: skip
    migrate(settings)
    return settings


def migrate(settings: Settings) -> None:
    """What `atp migrate` does, for tests on PostgreSQL."""
    view_store = open_view_store(settings)
    try:
        apply_migrations(view_store)
    finally:
        view_store.close()


@pytest.fixture
async def runtime(settings: Settings) -> AsyncIterator[Runtime]:
    async with open_runtime(settings) as rt:
        yield rt


@pytest.fixture
async def base_url(runtime: Runtime, nursery: trio.Nursery) -> AsyncIterator[str]:
    """A real Hypercorn serving the carrier on 127.0.0.1:<ephemeral>."""
    shutdown = trio.Event()
    binds = await nursery.start(serve_http, runtime, shutdown)
    yield binds[0]
    shutdown.set()


@pytest.fixture
async def api(base_url: str) -> AsyncIterator[Api]:
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        yield Api(client)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    """A webhook receiver on loopback (answers 200 unless scripted)."""
    async with open_receiver() as r:
        yield r

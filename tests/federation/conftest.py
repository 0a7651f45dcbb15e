"""Carriers of different domains in one test, each on its own port with its own store,
finding each other through a DNS server the test runs (``tests.support.amtp_dns``)."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import attrs
import httpx
import psycopg
import pytest
import trio

from atp.actors import Runtime
from atp.amtp import txt_value
from atp.serve import open_runtime, serve_http
from atp.settings import Settings
from atp.wire import MAX_PAYLOAD_BYTES
from tests.conftest import _postgres_url, migrate
from tests.support.amtp_dns import DnsServer, open_dns_server
from tests.support.helpers import AUDIT_KEY


@attrs.define
class Gateway:
    """One carrier, as the tests reach it."""

    domain: str
    runtime: Runtime
    url: str
    client: httpx.AsyncClient
    admin: str = ""  # an account key

    async def register(self, name: str) -> dict[str, Any]:
        r = await self.client.post(
            "/v1/admin/agents", json={"address": name}, headers={"X-Admin-Key": self.admin}
        )
        assert r.status_code == 201, r.text
        agent: dict[str, Any] = r.json()["agent"]
        return agent


Open = Callable[..., AbstractAsyncContextManager[Gateway]]


@pytest.fixture
async def dns_server() -> AsyncIterator[DnsServer]:
    async with open_dns_server() as server:
        yield server


@pytest.fixture
def schemas(store: str) -> Iterator[Callable[[], str]]:
    """Fresh PostgreSQL schemas, one per carrier (dropped afterwards)."""
    made: list[str] = []
    base = _postgres_url() if store == "postgres" else None

    def new() -> str:
        assert base is not None
        schema = "atp_test_" + secrets.token_hex(6)
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(f"CREATE SCHEMA {schema}")
        made.append(schema)
        return f"{base}{'&' if '?' in base else '?'}schema={schema}"

    yield new
    for schema in made:
        assert base is not None
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture
def gateways(
    store: str,
    tmp_path: Path,
    dns_server: DnsServer,
    schemas: Callable[[], str],
    nursery: trio.Nursery,
) -> Open:
    """Start a carrier for a domain, serve it, publish its ``_amtp`` record."""

    @asynccontextmanager
    async def start(domain: str, **overrides: Any) -> AsyncIterator[Gateway]:
        settings = Settings(
            data_dir=tmp_path / domain,
            port=0,
            domain=domain,
            secret_key=secrets.token_urlsafe(32),
            webhook_allow_private=True,  # the other gateway is on loopback
            amtp_resolvers=(dns_server.address,),
            actor_idle_timeout=5.0,
            audit_follower="inline",
            **overrides,
        )
        if store == "postgres":
            settings = attrs.evolve(settings, database_url=schemas(), audit_signing_key=AUDIT_KEY)
            migrate(settings)
        async with open_runtime(settings) as runtime:
            shutdown = trio.Event()
            (url,) = await nursery.start(serve_http, runtime, shutdown)
            federation = runtime.carrier.federation
            assert federation is not None
            dns_server.publish(domain, txt_value(url, MAX_PAYLOAD_BYTES, federation.key.public_key))
            async with httpx.AsyncClient(base_url=url, timeout=30) as client:
                r = await client.post("/api/accounts", json={"name": domain})
                admin = r.json()["account_api_key"]["token"]
                try:
                    yield Gateway(domain, runtime, url, client, admin)
                finally:
                    shutdown.set()

    return start

"""Three carriers as separate processes, each on its own host (a network namespace with
its own address), finding each other through the test's DNS server: a message to
recipients at two domains reaches each once; a sender's carrier killed while its relay
is retrying, and restarted, delivers once."""

from __future__ import annotations

import os
import secrets
import signal
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio

from tests.support.a2a import until
from tests.support.amtp_dns import DnsServer, open_dns_server
from tests.support.netns import Network, network
from tests.support.subprocess_server import ServerProcess

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="network namespaces need root")

PORT = 8700
DOMAINS = ("one.test", "two.test", "three.test")


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


class Host:
    """A carrier for ``domain`` on its own host."""

    def __init__(self, domain: str, namespace: str, address: str, dns: DnsServer, workdir: Path):
        self.domain = domain
        workdir.mkdir()
        env = {k: v for k, v in os.environ.items() if not k.startswith("ATP_")}
        env |= {
            "ATP_DOMAIN": domain,
            "ATP_BIND": address,
            "ATP_PORT": str(PORT),
            "ATP_PUBLIC_URL": f"http://{address}:{PORT}",
            "ATP_DATA_DIR": str(workdir / "var"),
            "ATP_SECRET_KEY": secrets.token_urlsafe(32),
            "ATP_AMTP_RESOLVERS": dns.address,
            "ATP_WEBHOOK_ALLOW_PRIVATE": "1",  # the other hosts are on a private LAN
            "ATP_AUDIT_FOLLOWER": "inline",
        }
        self.server = ServerProcess(env, workdir, namespace=namespace)
        self.http = httpx.AsyncClient(base_url=self.server.base_url, timeout=10)
        self.admin = ""

    async def start(self, dns: DnsServer) -> None:
        await self.server.start()
        caps = (await self.http.get(f"/v1/capabilities/{self.domain}")).json()
        dns.publish(self.domain, caps["txt_record"].split(" IN TXT ")[1].strip('"'))
        if not self.admin:
            r = await self.http.post("/api/accounts", json={"name": self.domain})
            self.admin = r.json()["account_api_key"]["token"]

    async def register(self, name: str) -> dict[str, Any]:
        r = await self.http.post(
            "/v1/admin/agents", json={"address": name}, headers={"X-Admin-Key": self.admin}
        )
        assert r.status_code == 201, r.text
        agent: dict[str, Any] = r.json()["agent"]
        return agent

    async def inbox(self, agent: dict[str, Any]) -> list[dict[str, Any]]:
        path = f"/v1/inbox/{agent['address']}"
        r = await self.http.get(path, headers=bearer(agent["api_key"]))
        assert r.status_code == 200, r.text
        messages: list[dict[str, Any]] = r.json()["messages"]
        return messages

    async def send(self, agent: dict[str, Any], to: list[str], payload: Any) -> str:
        message = {"sender": agent["address"], "recipients": to, "payload": payload}
        r = await self.http.post("/v1/messages", json=message, headers=bearer(agent["api_key"]))
        assert r.status_code == 202, r.text
        message_id: str = r.json()["message_id"]
        return message_id

    async def status(self, agent: dict[str, Any], message_id: str) -> dict[str, Any]:
        path = f"/v1/messages/{message_id}/status"
        body: dict[str, Any] = (await self.http.get(path, headers=bearer(agent["api_key"]))).json()
        return body


async def hosts(
    stack: AsyncExitStack, net: Network, dns: DnsServer, tmp_path: Path
) -> AsyncIterator[Host]:
    for (namespace, address), domain in zip(net.hosts, DOMAINS, strict=True):
        host = Host(domain, namespace, address, dns, tmp_path / domain)
        await stack.enter_async_context(host.server)
        await stack.enter_async_context(host.http)
        yield host


async def test_carriers_on_their_own_hosts_federate_and_survive_a_kill(tmp_path: Path) -> None:
    with network(3) as net:
        async with open_dns_server(net.bridge_ip) as dns, AsyncExitStack() as stack:
            one, two, three = [h async for h in hosts(stack, net, dns, tmp_path)]
            for host in (one, two, three):
                await host.start(dns)
            a, d = await one.register("a"), await one.register("d")
            b, c = await two.register("b"), await two.register("c")
            e = await three.register("e")

            first = await one.send(a, [b["address"], c["address"], d["address"], e["address"]], 1)
            where = ((two, b), (two, c), (one, d), (three, e))

            async def everyone_has_it() -> bool:
                counts = [len(await host.inbox(agent)) for host, agent in where]
                return counts == [1, 1, 1, 1]

            await until(everyone_has_it, seconds=30)
            for host, agent in where:
                (got,) = await host.inbox(agent)
                assert got["message_id"] == first and got["sender"] == a["address"]

            # two.test goes down; one.test's relay retries; one.test is killed meanwhile.
            await two.server.kill(children=True)
            second = await one.send(a, [b["address"]], 2)

            async def retrying() -> bool:
                shown = await one.status(a, second)
                return shown["recipients"][0]["status"] == "retrying"

            await until(retrying, seconds=30)
            await one.server.kill(children=True)
            await two.start(dns)
            await one.start(dns)

            async def delivered() -> bool:
                shown = await one.status(a, second)
                return shown["recipients"][0]["status"] == "delivered"

            await until(delivered, seconds=60)
            payloads = sorted(m["payload"] for m in await two.inbox(b))
            assert payloads == [1, 2]  # the second once, after the restarts
            await trio.sleep(2)
            assert sorted(m["payload"] for m in await two.inbox(b)) == [1, 2]
            for host in (one, two, three):
                code, _ = await host.server.stop(signal.SIGTERM, within=15)
                assert code == 0, host.server.log()

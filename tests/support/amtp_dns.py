"""A DNS server the federation tests run: it answers TXT queries for the names in its
``records`` (each carrier's ``_amtp.<domain>``) over UDP, with dnslib, and 'no such
name' for every other one. Real DNS on the wire: the carriers' dnspython resolvers
query it as they would any nameserver."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import attrs
import trio
from dnslib import QTYPE, RCODE, RR, TXT, DNSRecord

__all__ = ["DnsServer", "open_dns_server"]


@attrs.define
class DnsServer:
    address: str  # "host:port", as ATP_AMTP_RESOLVERS names a nameserver
    records: dict[str, list[str]] = attrs.field(factory=dict)  # name -> TXT values
    ttl: int = 300
    queries: list[str] = attrs.field(factory=list)

    def publish(self, domain: str, value: str) -> None:
        self.records[f"_amtp.{domain}"] = [value]


@asynccontextmanager
async def open_dns_server(host: str = "127.0.0.1") -> AsyncIterator[DnsServer]:
    sock = trio.socket.socket(trio.socket.AF_INET, trio.socket.SOCK_DGRAM)
    await sock.bind((host, 0))
    server = DnsServer(f"{host}:{sock.getsockname()[1]}")

    async def serve() -> None:
        while True:
            data, peer = await sock.recvfrom(4096)
            request = DNSRecord.parse(data)
            name = str(request.q.qname).rstrip(".").lower()
            server.queries.append(name)
            reply = request.reply()
            values = server.records.get(name)
            if values is None:
                reply.header.rcode = RCODE.NXDOMAIN
            elif request.q.qtype == QTYPE.TXT:
                for value in values:
                    chunks = [value[i : i + 255] for i in range(0, len(value), 255)]
                    reply.add_answer(RR(name, QTYPE.TXT, rdata=TXT(chunks), ttl=server.ttl))
            await sock.sendto(reply.pack(), peer)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(serve)
        try:
            yield server
        finally:
            nursery.cancel_scope.cancel()
            sock.close()

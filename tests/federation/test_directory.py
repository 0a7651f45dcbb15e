"""Finding another domain's gateway: its ``_amtp`` TXT record through dnspython, from a
DNS server the test runs; answers kept for their TTL, failures briefly, a bounded
number of domains."""

from __future__ import annotations

import trio
from trio.testing import MockClock

from atp.amtp import txt_value
from atp.federation import FAILURE_TTL, GatewayDirectory
from tests.support.amtp_dns import open_dns_server


async def test_a_gateway_is_found_and_kept_for_its_ttl(clock: MockClock) -> None:
    async with open_dns_server() as dns:
        dns.publish("two.test", txt_value("https://gw.two.test", 1000, bytes(32)))
        dns.ttl = 60
        directory = GatewayDirectory([dns.address])
        found = await directory.gateway("Two.Test.")
        assert found is not None and found.gateway == "https://gw.two.test"
        assert found.public_key == bytes(32)
        dns.publish("two.test", txt_value("https://moved.two.test", 1000, bytes(32)))
        await directory.gateway("two.test")
        assert dns.queries == ["_amtp.two.test"]  # kept
        clock.jump(61)
        moved = await directory.gateway("two.test")
        assert moved is not None and moved.gateway == "https://moved.two.test"
        assert directory.statistics().cache_hits == 1


async def test_a_domain_without_a_gateway_is_asked_again_only_after_a_while(
    clock: MockClock,
) -> None:
    async with open_dns_server() as dns:
        directory = GatewayDirectory([dns.address])
        assert await directory.gateway("none.test") is None
        assert await directory.gateway("none.test") is None
        assert dns.queries == ["_amtp.none.test"]
        dns.publish("none.test", txt_value("https://gw.none.test", 1000, bytes(32)))
        clock.jump(FAILURE_TTL + 1)
        assert await directory.gateway("none.test") is not None
        assert directory.statistics().failures == 1


async def test_a_resolver_that_does_not_answer_is_a_failure_not_a_hang() -> None:
    quiet = trio.socket.socket(trio.socket.AF_INET, trio.socket.SOCK_DGRAM)
    await quiet.bind(("127.0.0.1", 0))  # bound, never answering
    directory = GatewayDirectory([f"127.0.0.1:{quiet.getsockname()[1]}"])
    with trio.fail_after(10):
        assert await directory.gateway("two.test") is None
    quiet.close()


async def test_the_cache_holds_a_bounded_number_of_domains() -> None:
    async with open_dns_server() as dns:
        for n in range(5):
            dns.publish(f"d{n}.test", txt_value(f"https://gw.d{n}.test", 1000, bytes(32)))
        directory = GatewayDirectory([dns.address], size=3)
        for n in range(5):
            await directory.gateway(f"d{n}.test")
        await directory.gateway("d0.test")  # dropped as the least recently used: asked again
        assert dns.queries.count("_amtp.d0.test") == 2
        await directory.gateway("d4.test")
        assert dns.queries.count("_amtp.d4.test") == 1

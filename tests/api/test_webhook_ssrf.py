"""No webhook request ever reaches a blocked address (contract §5.2), end to end.

A DNS name passes registration; at delivery time it resolves (through trio's
resolver hook, the one faked part) into each blocked range in turn. The carrier must
refuse before connecting: the attempt fails with ``unsafe_webhook_url``, it is not
retried, the message is parked as a dead letter, and a receiver listening on the
loopback address gets nothing.
"""

from __future__ import annotations

import pytest

from tests.support.fake_dns import FakeDns
from tests.support.helpers import Api
from tests.support.receivers import open_receiver

# One address inside every range the contract blocks, and the IPv6 forms that embed
# a blocked IPv4 address.
BLOCKED = [
    "0.1.2.3", "10.0.0.1", "127.0.0.1", "100.64.0.1", "169.254.169.254", "172.16.0.1",
    "192.0.0.1", "192.0.2.1", "192.168.1.1", "198.18.0.1", "198.51.100.1", "203.0.113.1",
    "224.0.0.1", "255.255.255.255", "::1", "fc00::1", "fe80::1", "ff02::1",
    "::ffff:127.0.0.1", "::127.0.0.1", "64:ff9b::a00:1",
]  # fmt: skip


@pytest.mark.parametrize("mixed", [False, True], ids=["alone", "after-a-public-one"])
@pytest.mark.parametrize("address", BLOCKED)
async def test_a_name_resolving_into_a_blocked_range_gets_no_request(
    api: Api, dns: FakeDns, address: str, mixed: bool
) -> None:
    async with open_receiver() as receiver:
        # One blocked address among the answers is enough to refuse.
        dns.names["hooks.example.com"] = ["93.184.215.14", address] if mixed else [address]
        alpha, beta = await api.pair()
        url = f"http://hooks.example.com:{receiver.port}/hook"
        await api.webhook_endpoint(beta, url)
        message_id = (await api.send(alpha, beta)).json()["message"]["id"]
        status = await api.settled(beta, message_id, "failed")
        (attempt,) = status["deliveries"][0]["attempts"]
        assert (attempt["error"], attempt["response_status"]) == ("unsafe_webhook_url", None)
        assert status["carrier_status"] == "delivery_failed"  # parked, not lost
        assert "hooks.example.com" in dns.lookups
        assert receiver.connections == 0


async def test_registration_refuses_literal_private_addresses(api: Api) -> None:
    _, beta = await api.pair()
    path = f"/api/agents/{beta.id}/webhook_endpoint"
    for url in ("http://127.0.0.1/hook", "http://[::ffff:10.0.0.1]/hook", "http://localhost/"):
        r = await api.put(path, beta.token, {"url": url})
        assert r.status_code == 422
        assert r.json()["error"]["code"] == "invalid_webhook_url"

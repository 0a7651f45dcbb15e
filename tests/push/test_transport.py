"""Contract §5.2 and §5.4: the webhook HTTP client, against real receivers on real sockets.

DNS is the one thing faked, through trio's own hook (``set_custom_hostname_resolver``),
so that a name can resolve to loopback, to a mix of addresses, or to nothing.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import pytest
import trio
import trustme

from atp.errors import InvalidWebhookUrl
from atp.push import PostOutcome, WebhookClient, parse_retry_after
from atp.webhooks import check_webhook_url
from tests.support.fake_dns import FakeDns
from tests.support.receivers import Close, Hang, Respond, Trickle, open_receiver

UNSAFE = PostOutcome(status=None, retry_after=None, error="unsafe_webhook_url")
OK = PostOutcome(status=200, retry_after=None, error=None)


def _has_ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as sock:
            sock.bind(("::1", 0))
    except OSError:
        return False
    return True


needs_ipv6 = pytest.mark.skipif(not _has_ipv6_loopback(), reason="no IPv6 loopback")


@asynccontextmanager
async def open_client(**options: Any) -> AsyncIterator[WebhookClient]:
    options.setdefault("allow_private", True)
    client = WebhookClient(**options)
    try:
        yield client
    finally:
        await client.aclose()


async def settle() -> None:
    """Give a connection the client might wrongly have opened time to reach the receiver."""
    await trio.sleep(0.05)


async def test_a_post_arrives_with_its_body_and_headers_intact() -> None:
    body = b'{"delivery":{"id":"dlv_1"},"message":{"text":"h\xc3\xa9llo"}}'
    headers = {
        "content-type": "application/json",
        "atp-delivery-id": "dlv_1",
        "atp-signature": "t=1700000000,v1=abc",
    }
    async with open_receiver() as receiver, open_client() as client:
        outcome = await client.post(receiver.url("/hook?agent=agt_1"), body, headers)
        assert outcome == OK
        [request] = await receiver.wait_for(1)
    assert (request.method, request.path, request.body) == ("POST", "/hook?agent=agt_1", body)
    assert request.headers.items() >= headers.items()
    assert request.headers["host"] == f"127.0.0.1:{receiver.port}"
    assert request.headers["content-length"] == str(len(body))
    assert "cookie" not in request.headers and "authorization" not in request.headers


@pytest.mark.parametrize(
    ("receiver_host", "url_host"),
    [
        ("127.0.0.1", "127.0.0.1"),
        ("127.0.0.1", "localhost"),
        ("127.0.0.1", "127.1"),
        pytest.param("127.0.0.1", "[::ffff:127.0.0.1]", marks=needs_ipv6),
        pytest.param("::1", "[::1]", marks=needs_ipv6),
    ],
)
async def test_a_loopback_receiver_gets_nothing_unless_private_targets_are_allowed(
    dns: FakeDns, receiver_host: str, url_host: str
) -> None:
    async with open_receiver(host=receiver_host) as receiver:
        url = f"http://{url_host}:{receiver.port}/hook"
        async with open_client(allow_private=False) as client:
            assert await client.post(url, b"{}", {}) == UNSAFE
        await settle()
        assert receiver.connections == 0
        assert dns.lookups == []  # refused on the literal, before any resolution
        async with open_client(allow_private=True) as client:
            dns.names["localhost"] = [receiver_host]
            assert await client.post(url, b"{}", {}) == OK
        assert len(receiver.requests) == 1


@pytest.mark.parametrize(
    "addresses",
    [
        ["127.0.0.1"],
        ["::1"],
        ["169.254.169.254"],
        ["::ffff:10.0.0.1"],
        ["8.8.8.8", "127.0.0.1"],  # a public first address does not excuse a private one
        ["127.0.0.1", "8.8.8.8"],
        ["2001:4860:4860::8888", "fd00::1"],
    ],
)
async def test_a_name_resolving_to_any_private_address_never_gets_a_request(
    dns: FakeDns, addresses: list[str]
) -> None:
    dns.names["receiver.test"] = addresses
    async with open_receiver() as receiver, open_client(allow_private=False) as client:
        outcome = await client.post(f"http://receiver.test:{receiver.port}/hook", b"{}", {})
        await settle()
        assert outcome == UNSAFE
        assert dns.lookups == ["receiver.test"]
        assert receiver.connections == 0


async def test_a_pinned_connection_keeps_the_original_host_header(dns: FakeDns) -> None:
    dns.names["receiver.test"] = ["127.0.0.1"]
    async with open_receiver() as receiver, open_client() as client:
        outcome = await client.post(f"http://receiver.test:{receiver.port}/hook", b"{}", {})
        assert outcome == OK
        [request] = await receiver.wait_for(1)
    assert request.headers["host"] == f"receiver.test:{receiver.port}"
    assert dns.lookups == ["receiver.test"]  # one lookup: the checked answer is the one used


async def test_an_unknown_name_is_nxdomain(dns: FakeDns) -> None:
    async with open_client() as client:
        outcome = await client.post("http://nowhere.test/hook", b"{}", {})
    assert outcome == PostOutcome(status=None, retry_after=None, error="nxdomain")


@pytest.mark.parametrize(
    "url", ["ftp://8.8.8.8/hook", "http:///hook", "http://[fe80::1%25eth0]/", "not a url"]
)
async def test_a_url_that_is_not_a_webhook_url_is_unsafe(url: str) -> None:
    async with open_client() as client:
        assert await client.post(url, b"{}", {}) == UNSAFE


@pytest.mark.parametrize("value", ["Bearer caf\u00e9", "x\r\nx-injected: 1"])
async def test_a_header_that_cannot_be_sent_is_a_transport_error(value: str) -> None:
    async with open_receiver() as receiver, open_client() as client:
        outcome = await client.post(receiver.url(), b"{}", {"authorization": value})
        await settle()
    assert outcome == PostOutcome(status=None, retry_after=None, error="transport_error")
    assert receiver.requests == []


async def test_a_redirect_is_not_followed() -> None:
    async with open_receiver() as receiver, open_client() as client:
        receiver.script(Respond(302, headers={"location": receiver.url("/elsewhere")}))
        outcome = await client.post(receiver.url("/hook"), b"{}", {})
        await settle()
    assert outcome == PostOutcome(status=302, retry_after=None, error=None)
    assert [r.path for r in receiver.requests] == ["/hook"]


async def test_retry_after_is_read_in_seconds_and_as_a_date() -> None:
    in_a_minute = format_datetime(datetime.now(UTC) + timedelta(seconds=60), usegmt=True)
    async with open_receiver() as receiver, open_client() as client:
        receiver.script(
            Respond(503, headers={"retry-after": "7"}),
            Respond(429, headers={"retry-after": in_a_minute}),
            Respond(503),
        )
        first = await client.post(receiver.url(), b"{}", {})
        second = await client.post(receiver.url(), b"{}", {})
        third = await client.post(receiver.url(), b"{}", {})
    assert first == PostOutcome(status=503, retry_after=7.0, error=None)
    assert second.status == 429 and second.retry_after is not None
    assert 55 < second.retry_after <= 60
    assert third == PostOutcome(status=503, retry_after=None, error=None)


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (None, None),
        ("0", 0.0),
        (" 120 ", 120.0),
        ("-5", 0.0),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),  # in the past: now
        ("soon", None),
        ("1.5", None),
        ("9" * 30, None),
        ("", None),
    ],
)
def test_parse_retry_after(value: str | None, seconds: float | None) -> None:
    assert parse_retry_after(value) == seconds


async def test_a_receiver_that_never_answers_times_out() -> None:
    async with (
        open_receiver(default=Hang()) as receiver,
        open_client(connect_timeout=0.5, receive_timeout=0.5) as client,
    ):
        outcome = await client.post(receiver.url(), b"{}", {})
    assert outcome == PostOutcome(status=None, retry_after=None, error="timeout")
    assert len(receiver.requests) == 1


async def test_a_trickling_receiver_is_cut_off_by_the_attempt_deadline() -> None:
    async with (
        open_receiver(default=Trickle(interval=0.05)) as receiver,
        open_client(receive_timeout=0.5, attempt_timeout=0.7) as client,
    ):
        outcome = await client.post(receiver.url(), b"{}", {})
    # A byte every 50 ms never trips the 0.5 s read timeout: only the deadline ends it.
    assert outcome.error == "timeout" and outcome.status is None


async def test_a_refused_connection_is_a_connect_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nothing listens here once the socket closes
    async with open_client() as client:
        outcome = await client.post(f"http://127.0.0.1:{port}/hook", b"{}", {})
    assert outcome == PostOutcome(status=None, retry_after=None, error="connect_error")


async def test_a_connection_closed_without_an_answer_is_closed() -> None:
    async with open_receiver(default=Close()) as receiver, open_client() as client:
        outcome = await client.post(receiver.url(), b"{}", {})
    assert outcome == PostOutcome(status=None, retry_after=None, error="closed")


async def test_posts_to_one_endpoint_reuse_one_connection() -> None:
    async with open_receiver() as receiver, open_client() as client:
        receiver.script(Respond(200, body=b'{"ok":true}'), Respond(500), Respond(200))
        outcomes = [await client.post(receiver.url(), b"{}", {}) for _ in range(3)]
    assert [o.status for o in outcomes] == [200, 500, 200]
    assert receiver.connections == 1
    assert len({r.connection_id for r in receiver.requests}) == 1


async def test_a_large_response_body_is_dropped_with_its_connection() -> None:
    async with open_receiver() as receiver, open_client() as client:
        receiver.script(Respond(200, body=b"x" * 1_000_000))
        first = await client.post(receiver.url(), b"{}", {})
        second = await client.post(receiver.url(), b"{}", {})
    assert first == second == OK
    assert receiver.connections == 2


async def test_one_origin_gets_at_most_ten_concurrent_requests() -> None:
    async with (
        open_receiver(default=Hang()) as receiver,
        open_client() as client,
        trio.open_nursery() as nursery,
    ):
        for _ in range(11):
            nursery.start_soon(client.post, receiver.url(), b"{}", {})
        await receiver.wait_for(10)
        await trio.sleep(0.2)
        assert (len(receiver.requests), receiver.connections) == (10, 10)
        nursery.cancel_scope.cancel()


def _tls_contexts(ca: trustme.CA, server_name: str) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(server_name).configure_cert(server)
    client = ssl.create_default_context()
    ca.configure_trust(client)
    return server, client


async def test_tls_to_a_pinned_address_sends_and_verifies_the_original_host(
    dns: FakeDns,
) -> None:
    dns.names["receiver.test"] = ["127.0.0.1"]
    server, client_context = _tls_contexts(trustme.CA(), "receiver.test")
    async with (
        open_receiver(tls=server) as receiver,
        open_client(ssl_context=client_context) as client,
    ):
        outcome = await client.post(f"https://receiver.test:{receiver.port}/hook", b"{}", {})
        assert outcome == OK
    assert receiver.server_names == ["receiver.test"]
    assert receiver.requests[0].headers["host"] == f"receiver.test:{receiver.port}"


async def test_tls_refuses_a_certificate_for_another_name(dns: FakeDns) -> None:
    dns.names["receiver.test"] = ["127.0.0.1"]
    server, client_context = _tls_contexts(trustme.CA(), "someone-else.test")
    async with (
        open_receiver(tls=server) as receiver,
        open_client(ssl_context=client_context) as client,
    ):
        outcome = await client.post(f"https://receiver.test:{receiver.port}/hook", b"{}", {})
    assert outcome == PostOutcome(status=None, retry_after=None, error="connect_error")
    assert receiver.requests == []


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/hook",
        "http://localhost:8080/hook",
        "http://app.localhost/hook",
        "http://[::1]/hook",
        "http://10.1.2.3/hook",
        "http://127.1/hook",
    ],
)
def test_registration_accepts_private_targets_only_when_allowed(url: str) -> None:
    with pytest.raises(InvalidWebhookUrl):
        check_webhook_url(url)
    assert check_webhook_url(url, allow_private=True) == url


@pytest.mark.parametrize(
    "url", ["ftp://127.0.0.1/", "http://[fe80::1%25eth0]/", "http://127.0.0.300/", "http://:80/"]
)
def test_allowing_private_targets_keeps_every_other_rule(url: str) -> None:
    with pytest.raises(InvalidWebhookUrl):
        check_webhook_url(url, allow_private=True)

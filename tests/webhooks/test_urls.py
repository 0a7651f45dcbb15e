"""Contract §1.14 and §5.2: which webhook URLs registration accepts."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv6Address, ip_address

import pytest

from atp.errors import InvalidWebhookUrl
from atp.webhooks import check_webhook_url, is_public_address


def _full_width(ascii_text: str) -> str:
    """The full-width forms of ASCII letters and digits, which IDNA maps back to ASCII."""
    return "".join(chr(ord(char) + 0xFEE0) for char in ascii_text)


LONG_URL = "https://recipient.example/atp/webhook/" + "a" * 600

ACCEPTED = [
    "http://8.8.8.8/atp/webhook",
    "https://[2001:4860:4860::8888]/atp/webhook",
    LONG_URL,
    "https://recipient.example/atp/webhook?agent=agt_1&x=%20y",
    "https://recipient.example:8443/atp/webhook",
    "http://8.8.8.8:8080/hook?a=1",
    "https://recipient.example/atp/webhook",
    "https://RECIPIENT.Example./hook",  # upper case and a trailing root dot
    "https://user:pass@recipient.example/hook",
    "HTTPS://recipient.example/hook",
    "https://xn--bcher-kva.example/hook",
    "https://bücher.example/hook",
    "https://my_host.example:/hook",  # an empty port means the default one
    "https://localhost.example/hook",  # only the localhost zone is local
    "https://[::ffff:808:808]/hook",
    "https://[::808:808]/hook",
    "https://[64:ff9b::808:808]/hook",
    "https://[2002:808:808::1]/hook",  # 6to4 around a public IPv4
    "http://8.8.8.8./hook",
    "http://134744072/hook",  # 8.8.8.8 as one number
]


@pytest.mark.parametrize("url", ACCEPTED)
def test_public_urls_are_accepted(url: str) -> None:
    assert check_webhook_url(url) == url


def test_accepted_url_is_returned_trimmed() -> None:
    assert check_webhook_url("  https://recipient.example/hook\n\t") == (
        "https://recipient.example/hook"
    )


def test_url_of_exactly_2048_characters_is_accepted() -> None:
    url = "https://recipient.example/" + "a" * (2048 - len("https://recipient.example/"))
    assert len(url) == 2048
    assert check_webhook_url(url) == url


# One address inside every range that must never receive a webhook.
PRIVATE_IPV4 = {
    "0.0.0.0/8": "0.1.2.3",
    "10.0.0.0/8": "10.20.30.40",
    "100.64.0.0/10": "100.127.255.254",
    "127.0.0.0/8": "127.0.0.1",
    "169.254.0.0/16": "169.254.169.254",
    "172.16.0.0/12": "172.31.255.1",
    "192.0.0.0/24": "192.0.0.8",
    "192.0.2.0/24": "192.0.2.10",
    "192.168.0.0/16": "192.168.1.1",
    "198.18.0.0/15": "198.19.0.1",
    "198.51.100.0/24": "198.51.100.7",
    "203.0.113.0/24": "203.0.113.9",
    "224.0.0.0/4 multicast": "239.255.255.250",
    "240.0.0.0/4 reserved": "240.0.0.1",
    "255.255.255.255 broadcast": "255.255.255.255",
}

PRIVATE_IPV6 = {
    "unspecified": "::",
    "loopback": "::1",
    "fc00::/7 unique local": "fd12:3456:789a::1",
    "fe80::/10 link-local": "fe80::1",
    "ff00::/8 multicast": "ff02::1",
    "mapped private": "::ffff:10.0.0.1",
    "mapped IETF": "::ffff:192.0.0.1",
    "mapped loopback": "::ffff:127.0.0.1",
    "compatible private": "::192.168.0.1",
    "translated private": "::ffff:0:a9fe:a9fe",
    "NAT64 private": "64:ff9b::a00:1",
    "NAT64 local-use": "64:ff9b:1::808:808",
    "2001:db8::/32 documentation": "2001:db8::1",
    "3fff::/20 documentation": "3fff::1",
    "fec0::/10 site-local": "fec0::1",
    "100::/64 discard": "100::1",
    "2002::/16 6to4 around private": "2002:a00:1::1",
    "2002::/16 6to4 around loopback": "2002:7f00:1::1",
    "2001::/32 Teredo": "2001:0:4136:e378:8000:63bf:3fff:fdd2",
    "2001:2::/48 benchmarking": "2001:2::1",
    "2001:10::/28 ORCHID": "2001:10::1",
    "outside global unicast": "4000::1",
}


@pytest.mark.parametrize("address", PRIVATE_IPV4.values(), ids=PRIVATE_IPV4.keys())
def test_private_ipv4_literals_are_refused(address: str) -> None:
    assert not is_public_address(IPv4Address(address))
    with pytest.raises(InvalidWebhookUrl):
        check_webhook_url(f"http://{address}/atp/webhook")


@pytest.mark.parametrize("address", PRIVATE_IPV6.values(), ids=PRIVATE_IPV6.keys())
def test_private_ipv6_literals_are_refused(address: str) -> None:
    assert not is_public_address(IPv6Address(address))
    with pytest.raises(InvalidWebhookUrl):
        check_webhook_url(f"https://[{address}]/atp/webhook")


@pytest.mark.parametrize(
    "address",
    [
        "8.8.8.8",
        "1.1.1.1",
        "100.63.255.255",  # just below carrier-grade NAT
        "100.128.0.0",  # just above it
        "172.15.255.255",
        "172.32.0.0",
        "192.0.1.1",
        "198.17.255.255",
        "198.20.0.0",
        "223.255.255.255",  # the last address below multicast
        "2001:4860:4860::8888",
        "::ffff:808:808",
        "::808:808",
        "64:ff9b::808:808",
        "2002:808:808::1",
        "2001:1::1",  # just past Teredo
        "2001:db9::1",  # just past documentation
    ],
)
def test_public_addresses_are_public(address: str) -> None:
    assert is_public_address(ip_address(address))


@pytest.mark.parametrize(
    "url",
    [
        "http://localhost/hook",
        "http://LOCALHOST/hook",
        "http://x.localhost/hook",
        "https://api.Agent.LocalHost:8443/hook",
        "http://localhost./hook",
        f"http://{_full_width('localhost')}/hook",
        "http://user@localhost/hook",
    ],
)
def test_localhost_names_are_refused(url: str) -> None:
    with pytest.raises(InvalidWebhookUrl):
        check_webhook_url(url)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.1/hook",
        "http://2130706433/hook",
        "http://0x7f.0.0.1/hook",
        "http://0177.0.0.1/hook",
        "http://0x7f000001/hook",
        "http://10.1/hook",
        "http://127.0.0.1./hook",
        f"http://{_full_width('127')}.0.0.1/hook",
        "http://127\u30020\u30020\u30021/hook",  # ideographic full stops
    ],
)
def test_other_spellings_of_private_ipv4_are_refused(url: str) -> None:
    with pytest.raises(InvalidWebhookUrl):
        check_webhook_url(url)


@pytest.mark.parametrize(
    "url",
    [
        "",
        "   \n\t",
        "https://recipient.example/" + "a" * 2048,
        "ftp://recipient.example/hook",
        "file:///etc/passwd",
        "gopher://8.8.8.8/",
        "recipient.example/hook",
        "//recipient.example/hook",
        "http://",
        "http://:4000/x",
        "http:///hook",
        "http://user@/hook",
        "http://recipient.example:abc/hook",
        "http://recipient.example:99999/hook",
        "http://recipient.example:-1/hook",
        "http://recipient.example:0/hook",
        "http://[::1/hook",
        "http://[v1.x]/hook",
        "http://[8.8.8.8]/hook",
        "http://[fe80::1%25eth0]/hook",
        "http://[2001:4860:4860::8888%25eth0]/hook",
        "http://recipient.example\\@127.0.0.1/hook",
        "http://127.0.0.1\\@recipient.example/hook",
        "http://recip ient.example/hook",
        "http://recipient..example/hook",
        "http://127.0.0.%31/hook",
        "http://256.1.1.1/hook",
        "http://1.2.3.4.5/hook",
        "http://0x100000000/hook",
        "http://09.1.1.1/hook",
        "http://example.123/hook",
    ],
)
def test_malformed_urls_are_refused(url: str) -> None:
    with pytest.raises(InvalidWebhookUrl):
        check_webhook_url(url)


@pytest.mark.parametrize("value", [None, 42, True, ["https://x.example/"], {"url": "x"}])
def test_non_strings_are_refused(value: object) -> None:
    with pytest.raises(InvalidWebhookUrl):
        check_webhook_url(value)

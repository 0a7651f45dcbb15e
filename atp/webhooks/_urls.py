"""Registration-time SSRF defence: which webhook URLs the carrier will accept.

A webhook makes the carrier send requests on a stranger's behalf, so an endpoint must
not point back into the carrier's own network (contract §1.14, §5.2). This module is
the literal check, done with no I/O: DNS names pass here and the webhook client
(``atp.push``) re-checks every resolved address with ``is_public_address`` before
it connects.

Beyond the reference carrier (contract §12) it also refuses the IPv6 documentation,
benchmarking, discard, site-local and Teredo ranges, judges 6to4 addresses by their
embedded IPv4, and reads host spellings that HTTP clients turn into IPv4 addresses
(``127.1``, ``0x7f.0.0.1``, ``2130706433``, full-width digits) as those addresses.
"""

from __future__ import annotations

import re
import unicodedata
from ipaddress import (
    AddressValueError,
    IPv4Address,
    IPv4Network,
    IPv6Address,
    IPv6Network,
)
from urllib.parse import urlsplit

from atp.errors import InvalidWebhookUrl

__all__ = ["check_webhook_url", "is_public_address"]

_MAX_URL_LENGTH = 2048
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_SCHEMES = frozenset({"http", "https"})

# IPv4 ranges that are never a public webhook endpoint (contract §5.2).
_BLOCKED_IPV4: tuple[IPv4Network, ...] = (
    IPv4Network("0.0.0.0/8"),  # "this network"
    IPv4Network("10.0.0.0/8"),  # private
    IPv4Network("100.64.0.0/10"),  # carrier-grade NAT
    IPv4Network("127.0.0.0/8"),  # loopback
    IPv4Network("169.254.0.0/16"),  # link-local, cloud metadata services
    IPv4Network("172.16.0.0/12"),  # private
    IPv4Network("192.0.0.0/24"),  # IETF protocol assignments
    IPv4Network("192.0.2.0/24"),  # documentation TEST-NET-1
    IPv4Network("192.168.0.0/16"),  # private
    IPv4Network("198.18.0.0/15"),  # benchmarking
    IPv4Network("198.51.100.0/24"),  # documentation TEST-NET-2
    IPv4Network("203.0.113.0/24"),  # documentation TEST-NET-3
    IPv4Network("224.0.0.0/3"),  # multicast, reserved and broadcast
)

# IPv6 ranges that are never a public webhook endpoint, whatever they embed.
_BLOCKED_IPV6: tuple[IPv6Network, ...] = (
    IPv6Network("::/128"),  # unspecified
    IPv6Network("::1/128"),  # loopback
    IPv6Network("64:ff9b:1::/48"),  # local-use IPv4/IPv6 translation
    IPv6Network("100::/64"),  # discard-only
    IPv6Network("2001::/32"),  # Teredo: tunnels to an obfuscated IPv4 client
    IPv6Network("2001:2::/48"),  # benchmarking
    IPv6Network("2001:10::/28"),  # deprecated ORCHID
    IPv6Network("2001:db8::/32"),  # documentation
    IPv6Network("3fff::/20"),  # documentation
    IPv6Network("fc00::/7"),  # unique local
    IPv6Network("fe80::/10"),  # link-local
    IPv6Network("fec0::/10"),  # deprecated site-local
    IPv6Network("ff00::/8"),  # multicast
)

# IPv6 ranges whose low 32 bits are an IPv4 address that the packet really goes to.
_EMBEDS_IPV4_IN_LOW_BITS: tuple[IPv6Network, ...] = (
    IPv6Network("::/96"),  # IPv4-compatible (deprecated)
    IPv6Network("::ffff:0:0/96"),  # IPv4-mapped
    IPv6Network("::ffff:0:0:0/96"),  # IPv4-translated (SIIT)
    IPv6Network("64:ff9b::/96"),  # NAT64 well-known prefix
)

# Only global unicast is routable on the internet; the rest of the space is reserved.
_GLOBAL_UNICAST = IPv6Network("2000::/3")

# Dots that IDNA treats as label separators (RFC 3490 §3.1), which NFKC leaves alone.
_IDNA_DOTS = str.maketrans({"\u3002": ".", "\uff0e": ".", "\uff61": "."})
_IPV4_PART = re.compile(r"0[xX][0-9a-fA-F]*|[0-9]+", re.ASCII)
_HOST_PUNCTUATION = frozenset("-._")


def is_public_address(address: IPv4Address | IPv6Address) -> bool:
    """Tell whether ``address`` is one a webhook may be sent to.

    IPv6 addresses that carry an IPv4 address (mapped, compatible, translated, NAT64,
    6to4) are judged by that IPv4 address, since that is where the packet ends up.

    Args:
        address: The literal from a URL or an address a webhook host resolved to.

    Returns:
        False for any private, loopback, link-local, documentation, multicast or
        otherwise reserved address; True otherwise.
    """
    if isinstance(address, IPv4Address):
        return not any(address in network for network in _BLOCKED_IPV4)
    if any(address in network for network in _BLOCKED_IPV6):
        return False
    embedded = _embedded_ipv4(address)
    if embedded is not None:
        return is_public_address(embedded)
    return address in _GLOBAL_UNICAST


def check_webhook_url(url: object, *, allow_private: bool = False) -> str:
    """Accept a webhook endpoint URL only if it is a public http or https URL.

    Args:
        url: The ``url`` field of the request body, of any JSON type.
        allow_private: Also accept ``localhost`` and private, loopback or otherwise
            non-public IP literals. Only for local development and tests
            (``ATP_WEBHOOK_ALLOW_PRIVATE``), where the receiver runs next to the carrier;
            every other rule (scheme, host syntax, port, zones) still holds.

    Returns:
        The URL with surrounding whitespace removed, as it is to be stored.

    Raises:
        InvalidWebhookUrl: if ``url`` is not a string, is blank, longer than 2048
            characters, holds a control character (NUL included), not http(s), has no
            host or a bad port, names localhost, or is
            an IP literal that is not public (the last two unless ``allow_private``).
    """
    if not isinstance(url, str):
        raise InvalidWebhookUrl("url is not a string")
    trimmed = url.strip()
    if not trimmed:
        raise InvalidWebhookUrl("url is blank")
    if len(trimmed) > _MAX_URL_LENGTH:
        raise InvalidWebhookUrl(f"url is longer than {_MAX_URL_LENGTH} characters")
    if _CONTROL.search(trimmed):
        # No URL holds one (RFC 3986); a NUL would also be unstorable on PostgreSQL.
        raise InvalidWebhookUrl("url holds a control character")
    try:
        parts = urlsplit(trimmed)
        port = parts.port  # parsed lazily; raises on a non-numeric or out-of-range port
    except ValueError as exc:
        raise InvalidWebhookUrl(f"url does not parse: {exc}") from exc
    if parts.scheme not in _SCHEMES:
        raise InvalidWebhookUrl("url scheme is not http or https")
    if port == 0:
        raise InvalidWebhookUrl("url port 0 cannot be connected to")
    if "\\" in parts.netloc:
        # Clients that follow the WHATWG URL standard read "\" as "/", so they would
        # connect to a different host than the one checked here.
        raise InvalidWebhookUrl("url authority contains a backslash")
    host = parts.hostname
    if host is None or not host.strip():
        raise InvalidWebhookUrl("url has no host")
    if parts.netloc.rpartition("@")[2].startswith("["):
        _check_bracketed_host(host, allow_private=allow_private)
    else:
        _check_named_host(host, allow_private=allow_private)
    return trimmed


def _check_bracketed_host(host: str, *, allow_private: bool) -> None:
    try:
        address = IPv6Address(host)
    except AddressValueError as exc:
        raise InvalidWebhookUrl("url host in brackets is not an IPv6 address") from exc
    if address.scope_id is not None:
        raise InvalidWebhookUrl("url host has an IPv6 zone, which only names a local link")
    if not allow_private and not is_public_address(address):
        raise InvalidWebhookUrl("url host is not a public address")


def _check_named_host(host: str, *, allow_private: bool) -> None:
    # Normalize the way IDNA does before judging, so localhost or 127.0.0.1 spelled in
    # full-width characters cannot slip past as a DNS name and then reach the carrier.
    name = unicodedata.normalize("NFKC", host).translate(_IDNA_DOTS).lower()
    name = name.removesuffix(".")  # "localhost." is the same host as "localhost"
    labels = name.split(".")
    if not all(labels) or not all(c.isalnum() or c in _HOST_PUNCTUATION for c in name):
        raise InvalidWebhookUrl("url host is not a valid host name")
    if not allow_private and (name == "localhost" or name.endswith(".localhost")):
        raise InvalidWebhookUrl("url host is localhost")
    if _IPV4_PART.fullmatch(labels[-1]):
        # A name ending in a number is an IPv4 address to HTTP clients, in any spelling.
        address = _parse_ipv4(labels)
        if address is None:
            raise InvalidWebhookUrl("url host is neither a name nor an IPv4 address")
        if not allow_private and not is_public_address(address):
            raise InvalidWebhookUrl("url host is not a public address")


def _parse_ipv4(labels: list[str]) -> IPv4Address | None:
    """Read a host the way the WHATWG URL standard's IPv4 parser does.

    Each part may be decimal, octal (leading 0) or hex (0x); fewer than four parts let
    the last one fill the remaining bytes, so "127.1" is 127.0.0.1.
    """
    if len(labels) > 4 or not all(_IPV4_PART.fullmatch(label) for label in labels):
        return None
    numbers: list[int] = []
    for label in labels:
        if label[:2] in ("0x", "0X"):
            numbers.append(int(label[2:] or "0", 16))
        elif len(label) > 1 and label.startswith("0"):
            if not set(label) <= set("01234567"):
                return None
            numbers.append(int(label, 8))
        else:
            numbers.append(int(label))
    *leading, last = numbers
    if any(number > 255 for number in leading) or last >= 256 ** (4 - len(leading)):
        return None
    value = last
    for index, number in enumerate(leading):
        value += number << (8 * (3 - index))
    return IPv4Address(value)


def _embedded_ipv4(address: IPv6Address) -> IPv4Address | None:
    if any(address in network for network in _EMBEDS_IPV4_IN_LOW_BITS):
        return IPv4Address(int(address) & 0xFFFF_FFFF)
    return address.sixtofour  # 2002:AABB:CCDD::/48 carries AA.BB.CC.DD in bits 16..48

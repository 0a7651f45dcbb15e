"""Hosts of their own on this machine: network namespaces (``ip netns``) on one bridge,
each with its own address, as separate machines on one LAN would be. The test process
stays in the root namespace and reaches every host through the bridge's address.

Needs root (CAP_NET_ADMIN), as CI and the development machines have. Every namespace,
veth pair and the bridge are removed when the block exits.
"""

from __future__ import annotations

import secrets
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager

import attrs

__all__ = ["Network", "network"]


@attrs.frozen
class Network:
    bridge_ip: str  # the root namespace's address on the bridge
    hosts: tuple[tuple[str, str], ...]  # (namespace, address) of each host


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=10)


@contextmanager
def network(count: int) -> Iterator[Network]:
    """``count`` namespaces on a fresh bridge, on a /24 of their own."""
    tag = secrets.token_hex(3)
    subnet = f"10.{secrets.randbelow(200) + 20}.{secrets.randbelow(250) + 1}"
    bridge = f"atpbr{tag}"
    namespaces: list[str] = []
    try:
        _ip("link", "add", bridge, "type", "bridge")
        _ip("addr", "add", f"{subnet}.1/24", "dev", bridge)
        _ip("link", "set", bridge, "up")
        hosts = []
        for n in range(count):
            ns, outside, inside = f"atp{tag}{n}", f"atpv{tag}{n}", f"atpp{tag}{n}"
            _ip("netns", "add", ns)
            namespaces.append(ns)
            _ip("link", "add", outside, "type", "veth", "peer", "name", inside)
            _ip("link", "set", inside, "netns", ns)
            _ip("link", "set", outside, "master", bridge, "up")
            address = f"{subnet}.{10 + n}"
            _ip("-n", ns, "addr", "add", f"{address}/24", "dev", inside)
            _ip("-n", ns, "link", "set", inside, "up")
            _ip("-n", ns, "link", "set", "lo", "up")
            hosts.append((ns, address))
        yield Network(f"{subnet}.1", tuple(hosts))
    finally:
        for ns in namespaces:
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=10)
        subprocess.run(["ip", "link", "del", bridge], capture_output=True, timeout=10)

"""Fake DNS through trio's own hook, so a test can make a name resolve anywhere.

``trio.socket.set_custom_hostname_resolver`` is the resolver every trio
``getaddrinfo`` call consults, the carrier's included: a name can resolve to loopback,
to any blocked range, to a mix of addresses, or to nothing. Only DNS is faked; the
connections that follow are real.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from typing import Literal

import pytest
import trio

__all__ = ["FakeDns", "dns"]

# What trio's HostnameResolver.getaddrinfo returns, one address at a time.
Answer = (
    tuple[Literal[socket.AddressFamily.AF_INET], socket.SocketKind, int, str, tuple[str, int]]
    | tuple[
        Literal[socket.AddressFamily.AF_INET6],
        socket.SocketKind,
        int,
        str,
        tuple[str, int, int, int] | tuple[int, bytes],
    ]
)


class FakeDns(trio.abc.HostnameResolver):
    """Answers for the names in ``names``, and 'no such name' for every other one."""

    def __init__(self) -> None:
        self.names: dict[str, list[str]] = {}
        self.lookups: list[str] = []

    async def getaddrinfo(
        self,
        host: bytes | None,
        port: bytes | str | int | None,
        family: int = 0,
        type: int = 0,
        proto: int = 0,
        flags: int = 0,
    ) -> list[Answer]:
        name = host.decode("ascii") if host is not None else ""
        self.lookups.append(name)
        await trio.lowlevel.checkpoint()
        if name not in self.names:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        number = int(port) if port is not None else 0
        answers: list[Answer] = []
        for address in self.names[name]:
            if ":" in address:
                answers.append(
                    (socket.AF_INET6, socket.SOCK_STREAM, 6, "", (address, number, 0, 0))
                )
            else:
                answers.append((socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, number)))
        return answers

    async def getnameinfo(
        self, sockaddr: tuple[str, int] | tuple[str, int, int, int], flags: int
    ) -> tuple[str, str]:
        raise NotImplementedError


@pytest.fixture
async def dns() -> AsyncIterator[FakeDns]:
    resolver = FakeDns()
    previous = trio.socket.set_custom_hostname_resolver(resolver)
    try:
        yield resolver
    finally:
        trio.socket.set_custom_hostname_resolver(previous)

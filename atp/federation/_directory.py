"""GatewayDirectory: which gateway serves a domain, from its ``_amtp`` TXT record.

Looked up with dnspython's resolver (the system's, or the nameservers
``ATP_AMTP_RESOLVERS`` names: tests run their own DNS server). An answer is kept for
its TTL (at least ``_MIN_TTL``, at most ``_MAX_TTL``); a failure (no record, no such
domain, a resolver that does not answer) for ``FAILURE_TTL``, so that a domain without
AMTP does not cost a lookup per message. The cache holds ``size`` domains, the least
recently used dropped first.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Sequence

import attrs
import dns.asyncresolver
import dns.exception
import dns.resolver
import trio

from atp.amtp import GatewayRecord, parse_txt

__all__ = ["FAILURE_TTL", "DirectoryStatistics", "GatewayDirectory"]

log = logging.getLogger("atp.federation")

FAILURE_TTL = 30.0
_MIN_TTL, _MAX_TTL = 5.0, 3600.0
_TIMEOUT = 5.0  # per lookup, all tries included


@attrs.define
class DirectoryStatistics:
    lookups: int = 0  # asked of DNS
    cache_hits: int = 0
    failures: int = 0


class GatewayDirectory:
    """Domains' gateways, cached."""

    def __init__(self, nameservers: Sequence[str] = (), *, size: int = 1024) -> None:
        self._resolver = dns.asyncresolver.Resolver(configure=not nameservers)
        if nameservers:
            hosts = [_host_port(n) for n in nameservers]
            self._resolver.nameservers = [host for host, _ in hosts]
            self._resolver.port = hosts[0][1]  # one port for all of them (dnspython's rule)
        self._resolver.lifetime = _TIMEOUT
        self._size = size
        self._cache: OrderedDict[str, tuple[float, GatewayRecord | None]] = OrderedDict()
        self._statistics = DirectoryStatistics()

    async def gateway(self, domain: str) -> GatewayRecord | None:
        """The gateway of ``domain``, or None if it publishes none (or DNS failed)."""
        domain = domain.lower().rstrip(".")
        now = trio.current_time()
        kept = self._cache.get(domain)
        if kept is not None and kept[0] > now:
            self._cache.move_to_end(domain)
            self._statistics.cache_hits += 1
            return kept[1]
        record, ttl = await self._lookup(domain)
        self._cache[domain] = (trio.current_time() + ttl, record)
        self._cache.move_to_end(domain)
        while len(self._cache) > self._size:
            self._cache.popitem(last=False)
        return record

    def forget(self, domain: str) -> None:
        """Drop what is kept of ``domain`` (its gateway refused our signature: its key
        may have changed)."""
        self._cache.pop(domain.lower().rstrip("."), None)

    def statistics(self) -> DirectoryStatistics:
        return attrs.evolve(self._statistics)

    async def _lookup(self, domain: str) -> tuple[GatewayRecord | None, float]:
        self._statistics.lookups += 1
        try:
            answer = await self._resolver.resolve(f"_amtp.{domain}", "TXT")
        except (dns.exception.DNSException, OSError) as error:
            self._statistics.failures += 1
            log.info("no AMTP gateway found for %s (%s)", domain, type(error).__name__)
            return None, FAILURE_TTL
        values = [b"".join(r.strings).decode("utf-8", "replace") for r in answer]
        record = parse_txt(values)
        if record is None:
            self._statistics.failures += 1
            return None, FAILURE_TTL
        ttl = float(answer.rrset.ttl) if answer.rrset is not None else _MIN_TTL
        return record, min(max(ttl, _MIN_TTL), _MAX_TTL)


def _host_port(nameserver: str) -> tuple[str, int]:
    host, sep, port = nameserver.rpartition(":")
    if sep and port.isdigit() and host and not host.endswith(":"):
        return host.strip("[]"), int(port)
    return nameserver, 53

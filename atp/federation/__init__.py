"""AMTP federation: other domains' gateways found in DNS (``GatewayDirectory``), and
requests between gateways signed and verified with HTTP Message Signatures (RFC 9421,
``GatewayKey``), put together as ``Federation``."""

from atp.federation._directory import FAILURE_TTL, DirectoryStatistics, GatewayDirectory
from atp.federation._gateway import Federation, RelayOutcome, Sender
from atp.federation._signatures import MAX_AGE, GatewayKey, verify_request

__all__ = [
    "FAILURE_TTL",
    "MAX_AGE",
    "DirectoryStatistics",
    "Federation",
    "GatewayDirectory",
    "GatewayKey",
    "RelayOutcome",
    "Sender",
    "verify_request",
]

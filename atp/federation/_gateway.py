"""Federation: this gateway's side of AMTP between domains.

Outbound, ``relay`` finds the recipients' domain's gateway in DNS and POSTs it one
signed request (``GatewayKey``) through the webhooks' client, whose SSRF defence a
gateway URL passes like any webhook URL. Inbound, ``authenticate`` tells whether a
request came from the gateway of its sender's domain: signed with the key that
domain's record publishes, or unsigned from a domain the operator lets send unsigned
(``ATP_AMTP_UNSIGNED_DOMAINS``: AMTP's reference gateway signs nothing).
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import Enum

import attrs

from atp.amtp import AMTP_VERSION
from atp.federation._directory import GatewayDirectory
from atp.federation._signatures import GatewayKey, verify_request
from atp.push import PostOutcome, WebhookClient

__all__ = ["Federation", "RelayOutcome", "Sender"]

_USER_AGENT = f"ATP AMTP/{AMTP_VERSION}"


class Sender(Enum):
    """Who a gateway request is from, as far as it can be told."""

    SIGNED = "signed"  # its domain's gateway signed it
    UNSIGNED = "unsigned"  # unsigned, from a domain allowed to send so
    REFUSED = "refused"


@attrs.frozen
class RelayOutcome:
    status: int | None
    error: str | None  # the class of failure: no_gateway, unsafe_webhook_url, timeout, …
    retry_after: float | None = None


class Federation:
    """Other domains' gateways, this gateway's key, and the requests between them."""

    def __init__(
        self,
        domain: str,
        directory: GatewayDirectory,
        key: GatewayKey,
        client: WebhookClient,
        unsigned_domains: Iterable[str] = (),
    ) -> None:
        self.domain = domain
        self.directory = directory
        self.key = key
        self._client = client
        self._unsigned = frozenset(unsigned_domains)

    async def relay(self, domain: str, body: bytes) -> RelayOutcome:
        """POST an AMTP message (``body``) to ``domain``'s gateway, signed, once."""
        record = await self.directory.gateway(domain)
        if record is None:
            return RelayOutcome(None, "no_gateway")
        if record.max_size is not None and len(body) > record.max_size:
            return RelayOutcome(413, "too_large")
        url = f"{record.gateway}/v1/messages"
        headers = {
            "content-type": "application/json",
            "user-agent": _USER_AGENT,
            "x-amtp-version": AMTP_VERSION,
        }
        headers.update(self.key.signature_headers("POST", url, body, self.domain))
        outcome: PostOutcome = await self._client.post(url, body, headers)
        if outcome.status == 401:  # its key may have changed: look it up again next time
            self.directory.forget(domain)
        return RelayOutcome(outcome.status, outcome.error, outcome.retry_after)

    async def authenticate(
        self,
        sender_domain: str,
        method: str,
        url: str,
        headers: Iterable[tuple[str, str]],
        body: bytes,
    ) -> Sender:
        """Whether a request for a sender of ``sender_domain`` came from its gateway."""
        fields = list(headers)
        signed = any(name.lower() == "signature" for name, _ in fields)
        if not signed:
            return Sender.UNSIGNED if sender_domain in self._unsigned else Sender.REFUSED
        record = await self.directory.gateway(sender_domain)
        if record is None or record.public_key is None:
            return Sender.REFUSED
        if verify_request(method, url, fields, body, sender_domain, record.public_key):
            return Sender.SIGNED
        return Sender.REFUSED

"""The HTTP client that pushes webhooks to receivers: the carrier's one outbound I/O.

It re-checks every address a host resolves to and connects only to one of those (DNS
pinning), so a registered name cannot be turned against the carrier's own network
later. Apart from ``atp.webhooks`` (signing and URL checks, pure) because it needs
Trio and httpcore, which a client-only install does not have.
"""

from atp.push._outcome import PostOutcome, parse_retry_after
from atp.push._transport import WebhookClient

__all__ = ["PostOutcome", "WebhookClient", "parse_retry_after"]

"""Webhooks: signing, the SSRF checks, and the HTTP client that pushes to receivers.

Signing and the URL checks are pure, with no I/O. ``WebhookClient`` is the one place
that talks to a receiver: it re-checks every address a host resolves to and connects
only to one of those (DNS pinning), so a registered name cannot be turned against the
carrier's own network later.
"""

from atp.webhooks._signing import (
    SignatureError,
    new_hmac_secret,
    new_signing_key,
    public_key_of,
    reference_signature,
    standard_headers,
    verify_reference_signature,
    verify_standard,
)
from atp.webhooks._transport import (
    PostOutcome,
    WebhookClient,
    parse_retry_after,
)
from atp.webhooks._urls import check_webhook_url, is_public_address

__all__ = [
    "PostOutcome",
    "SignatureError",
    "WebhookClient",
    "check_webhook_url",
    "is_public_address",
    "new_hmac_secret",
    "new_signing_key",
    "parse_retry_after",
    "public_key_of",
    "reference_signature",
    "standard_headers",
    "verify_reference_signature",
    "verify_standard",
]

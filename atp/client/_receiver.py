"""For receivers: check that a webhook request really came from the carrier.

A push carries two signature schemes; checking either is enough. Standard Webhooks
(``webhook-*`` headers) verifies with the endpoint's ``whsec_`` secret (``v1``) or one
of its ``whpk_`` public keys (``v1a``, no shared secret needed); the reference scheme
(``atp-signature``) with the secret. Raise on anything else, and deduplicate on the
``webhook-id`` header: a delivery may arrive more than once.
"""

from __future__ import annotations

from collections.abc import Mapping

from atp.webhooks import SignatureError, verify_reference_signature, verify_standard

__all__ = ["SignatureError", "verify_webhook"]


def verify_webhook(
    headers: Mapping[str, str],
    body: bytes,
    *,
    secret: str | None = None,
    public_key: str | None = None,
    tolerance: int = 300,
) -> None:
    """Check a received push against the raw body, as it arrived.

    Args:
        headers: The request headers (any letter case).
        body: The raw request body; parse it only after this returns.
        secret: The endpoint's ``whsec_…`` secret (from setting the endpoint).
        public_key: A ``whpk_…`` signing key (from ``…/webhook_endpoint/signing_keys``).
        tolerance: Seconds the signature timestamp may be off from now.

    Raises:
        SignatureError: ``invalid_signature`` or ``timestamp_out_of_tolerance``.
        ValueError: neither ``secret`` nor ``public_key`` given.
    """
    lowered = {name.lower(): value for name, value in headers.items()}
    if "webhook-signature" in lowered:
        verify_standard(lowered, body, whsec=secret, whpk=public_key, tolerance=tolerance)
        return
    if secret is None:
        raise ValueError("the reference scheme needs the endpoint secret")
    verify_reference_signature(
        lowered.get("atp-signature", ""),
        lowered.get("atp-timestamp", ""),
        body,
        secret,
        tolerance=tolerance,
    )

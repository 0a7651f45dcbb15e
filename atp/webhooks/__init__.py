"""Webhooks: both signature schemes and the SSRF checks of a receiver's URL.

Pure, with no I/O: receivers verify with it too (``atp.client.verify_webhook``). The
client that pushes is ``atp.push``.
"""

from atp.webhooks._signing import (
    SignatureError,
    check_hmac_secret,
    new_hmac_secret,
    new_signing_key,
    public_key_of,
    reference_signature,
    standard_headers,
    verify_reference_signature,
    verify_standard,
)
from atp.webhooks._urls import check_webhook_url, is_public_address

__all__ = [
    "SignatureError",
    "check_hmac_secret",
    "check_webhook_url",
    "is_public_address",
    "new_hmac_secret",
    "new_signing_key",
    "public_key_of",
    "reference_signature",
    "standard_headers",
    "verify_reference_signature",
    "verify_standard",
]

"""How one push attempt ended, in the terms an attempt record keeps (contract §5.4, §5.5).

What ``WebhookClient.post`` answers: a status, a ``Retry-After`` read as seconds, or
the class of the error that kept a response from coming (never its text).
"""

from __future__ import annotations

import email.utils
import re
from datetime import UTC, datetime

import attrs
import httpcore

__all__ = ["PostOutcome", "classify", "failed", "parse_retry_after"]

_DELTA_SECONDS = re.compile(r"-?[0-9]{1,10}", re.ASCII)


@attrs.frozen
class PostOutcome:
    """What one attempt came to, in the terms an attempt record needs (contract §5.5).

    Attributes:
        status: The HTTP status, or None when no response arrived.
        retry_after: Seconds from the ``Retry-After`` header (delta-seconds or an
            HTTP-date, negatives clamped to 0); None when absent or unreadable.
        error: None when a response arrived; else ``"unsafe_webhook_url"`` (refused by
            the SSRF checks, nothing was sent), ``"timeout"``, ``"connect_error"``,
            ``"closed"``, ``"nxdomain"`` or ``"transport_error"``.
        body: The response's body, up to ``MAX_RESPONSE_BYTES`` (an A2A recipient's
            answer is read from it).
    """

    status: int | None
    retry_after: float | None
    error: str | None
    body: bytes = attrs.field(default=b"", repr=False, eq=False)


def parse_retry_after(value: str | None) -> float | None:
    """Read a ``Retry-After`` value (RFC 9110 §10.2.3) as seconds from now.

    Args:
        value: The header's value, or None when the response had none.

    Returns:
        The delay in seconds, at least 0 (a date in the past means "now"); None if the
        value is absent or is neither delta-seconds nor an HTTP-date.
    """
    if value is None:
        return None
    text = value.strip()
    if _DELTA_SECONDS.fullmatch(text):
        return float(max(0, int(text)))
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)  # HTTP-dates are always GMT
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def failed(error: str) -> PostOutcome:
    return PostOutcome(status=None, retry_after=None, error=error)


def classify(exc: Exception) -> str:
    """Name a failed exchange the way the reference carrier's attempt records do (§5.4)."""
    if isinstance(exc, httpcore.TimeoutException):
        return "timeout"
    if isinstance(exc, httpcore.ConnectError):
        return "connect_error"
    if isinstance(exc, httpcore.ReadError | httpcore.WriteError):
        return "closed"  # reset or broken pipe: the receiver went away mid-exchange
    if isinstance(exc, httpcore.RemoteProtocolError) and (
        "disconnected" in str(exc) or "peer closed" in str(exc)
    ):
        return "closed"  # a clean close before the response (or its body) was complete
    return "transport_error"

"""What both clients share about sending a call: headers, retries and error answers.

A call whose answer was lost (a connection error, a 5xx, or the carrier still working
on the same key) is sent again with the *same* idempotency key, so it acts at most
once; an error answer raises the contract's error as its ``atp.errors`` class.
"""

from __future__ import annotations

from typing import Any, TypeVar

import httpx

from atp.client._call import Call
from atp.errors import error_for_code

__all__ = [
    "BACKOFF",
    "RETRIES",
    "STREAM_TIMEOUT",
    "Reconnects",
    "api_key",
    "pause",
    "raise_for_error",
    "read",
    "request_headers",
    "settled",
    "stream_path",
]

T = TypeVar("T")
RETRIES = 3
BACKOFF = 0.2  # seconds, doubled per retry
# The most a Retry-After may make one retry wait: the carrier asks 1-2 s (docs/api.md).
_MAX_RETRY_AFTER = 10.0
# The stream sends a heartbeat every 15 s: three missed ones mean the connection is gone.
STREAM_TIMEOUT = httpx.Timeout(10, read=45)


def request_headers(call: Call[Any]) -> dict[str, str]:
    headers = {}
    if call.token is not None:
        headers["authorization"] = f"Bearer {call.token}"
    if call.idempotency_key is not None:
        headers["idempotency-key"] = call.idempotency_key
    return headers


def stream_path(session_id: str) -> str:
    return f"/api/sessions/{session_id}/stream"


def _retryable(call: Call[Any], response: httpx.Response) -> bool:
    if response.status_code in call.answers:
        return False
    if response.status_code >= 500:
        return True
    return (
        response.status_code == 409 and _error_field(response, "code") == "idempotency_in_progress"
    )


def _error_field(response: httpx.Response, name: str) -> str | None:
    try:
        return str(response.json()["error"][name])
    except (ValueError, KeyError, TypeError):
        return None


def raise_for_error(response: httpx.Response) -> None:
    """Raise the contract's error for an error answer, as its ``atp.errors`` class.

    The text says what the server said: ``server returned 404 not_found: <message>``.
    """
    if response.status_code < 400:
        return
    code, message = _error_field(response, "code"), _error_field(response, "message")
    text = f"server returned {response.status_code}"
    if code is not None:
        text += f" {code}" + (f": {message}" if message else "")
    raise error_for_code(code or "unexpected_error")(text)


def api_key(given: str | None, default: str | None) -> str:
    chosen = given or default
    if chosen is None:
        raise ValueError("no API key: pass token= here or to the client")
    return chosen


def settled(attempt: int, call: Call[Any], response: httpx.Response) -> bool:
    """Whether this answer is final: not one to retry, or the retries are used up."""
    return attempt == RETRIES or not _retryable(call, response)


def pause(attempt: int, response: httpx.Response | None) -> float:
    """Seconds to wait before retry ``attempt + 1``: the backoff, or longer when the
    answer said when to come back (``Retry-After`` on a 503: the store is away, or the
    carrier is at its connection limit), within :data:`_MAX_RETRY_AFTER`."""
    wait: float = BACKOFF * 2**attempt
    given = response.headers.get("retry-after", "") if response is not None else ""
    if given.isdecimal():
        wait = max(wait, min(float(given), _MAX_RETRY_AFTER))
    return wait


def read(call: Call[T], response: httpx.Response) -> T:
    """The call's result from its final answer (an error answer raises)."""
    if response.status_code not in call.answers:
        raise_for_error(response)
    return call.read(response.json())


class Reconnects:
    """When to reopen a session's stream: after a short pause, longer after each failure."""

    def __init__(self) -> None:
        self.failures = 0  # in a row; an event resets it

    @property
    def delay(self) -> float:
        return BACKOFF * 2.0**self.failures

    def lost(self, error: httpx.TransportError) -> None:
        """Count a lost connection; raise ``error`` once the retries are used up."""
        self.failures += 1
        if self.failures > RETRIES:
            raise error

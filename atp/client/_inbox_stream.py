"""The inbox's stream (``GET /api/inbox/stream``), read as claims, with either client.

The carrier pushes each delivery as a claim under a lease it renews while the stream
stays open, and holds at most ``credit`` unACKed at a time: ACK each (``ack`` or
``ack_batch``) to be sent the next. A lost connection is reopened after a pause; what
was held and not ACKed comes again (the carrier released it), under a new delivery id.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Iterator

import anyio
import httpx

from atp.client._events import adecoded, decoded
from atp.client._http import STREAM_TIMEOUT, Reconnects, raise_for_error
from atp.client._results import Claim

__all__ = ["afollow_inbox", "follow_inbox"]

_PATH = "/api/inbox/stream"


def follow_inbox(
    http: httpx.Client, token: str, credit: int, lease_seconds: int
) -> Iterator[Claim]:
    """The claims the stream pushes, for as long as the caller takes them."""
    headers, params = _request(token, credit, lease_seconds)
    reconnects = Reconnects()
    while True:
        try:
            with http.stream(
                "GET", _PATH, headers=headers, params=params, timeout=STREAM_TIMEOUT
            ) as response:
                if response.status_code >= 400:
                    response.read()
                    raise_for_error(response)
                for claim in decoded(response.iter_lines(), _claim):
                    reconnects.failures = 0
                    yield claim
        except httpx.TransportError as exc:
            reconnects.lost(exc)
        time.sleep(reconnects.delay)


async def afollow_inbox(
    http: httpx.AsyncClient, token: str, credit: int, lease_seconds: int
) -> AsyncIterator[Claim]:
    """As ``follow_inbox``, for the async client."""
    headers, params = _request(token, credit, lease_seconds)
    reconnects = Reconnects()
    while True:
        try:
            async with http.stream(
                "GET", _PATH, headers=headers, params=params, timeout=STREAM_TIMEOUT
            ) as response:
                if response.status_code >= 400:
                    await response.aread()
                    raise_for_error(response)
                async for claim in adecoded(response.aiter_lines(), _claim):
                    reconnects.failures = 0
                    yield claim
        except httpx.TransportError as exc:
            reconnects.lost(exc)
        await anyio.sleep(reconnects.delay)


def _request(token: str, credit: int, lease_seconds: int) -> tuple[dict[str, str], dict[str, int]]:
    return {"authorization": f"Bearer {token}"}, {"credit": credit, "lease_seconds": lease_seconds}


def _claim(fields: dict[str, str]) -> Claim | None:
    """A ``delivery`` event's claim (other kinds: none)."""
    data = fields.get("data")
    if fields.get("event") == "delivery" and data is not None:
        return Claim.of(json.loads(data))
    return None

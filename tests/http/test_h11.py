"""Requests that h11 refuses before the app sees them are answered in the contract's
error envelope (``invalid_request``, with h11's status), and the connection closes."""

from __future__ import annotations

from pathlib import Path

import pytest
import trio
from trio.testing import MockClock

from atp.settings import Settings
from tests.support.mock_clock import open_carrier
from tests.support.raw_http import RawConnection, request

INVALID = {"error": {"code": "invalid_request", "message": "The request is invalid."}}
BOUND = 60.0  # mock seconds


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        (request("GET", "/health", headers=(("x-big", "a" * 70_000),)), 431),
        (request("GET", "/health", headers=(("x-nul", "a\x00b"),)), 400),
        (b"GET /health HTTP/1.1 extra\r\nhost: carrier.test\r\n\r\n", 400),
        (request("POST", "/api/accounts", headers=(("transfer-encoding", "gzip"),)), 501),
    ],
    ids=["headers-over-16-KiB", "nul-in-header", "bad-request-line", "unknown-coding"],
)
async def test_a_request_h11_refuses_is_answered_in_the_envelope_and_closed(
    raw: bytes, status: int, tmp_path: Path, clock: MockClock
) -> None:
    async with open_carrier(Settings(data_dir=tmp_path / "var", port=0)) as (api, _):
        conn = await RawConnection.open(str(api.client.base_url))
        with trio.fail_after(BOUND):
            await conn.send(raw)
            answer = await conn.answer()
            await conn.wait_closed()
        assert (answer.status, answer.json()) == (status, INVALID)
        assert answer.headers["content-type"] == "application/json"
        assert len(answer.headers["x-request-id"]) == 20

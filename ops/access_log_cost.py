#!/usr/bin/env python3
"""What the access log middleware adds to one request, measured in process.

Runs a trivial ASGI app (a 201 with a small body) N times bare and N times wrapped by
``atp.api``'s ``observe_requests``, with logging configured as ``atp serve`` does
(JSON to /dev/null at info, and at warning: no access line), and prints the extra
microseconds of CPU per request (process time: other load on the machine
moves it less than a wall clock would). The clock, the request id, the counters, the histogram and
the log record are all in the wrapped figure; the ``after_request`` hooks that record
the route and the principal are two attribute writes and are not.

    .venv/bin/python ops/access_log_cost.py [N]
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any

import trio

from atp.api._access_log import HttpStats, observe_requests
from atp.observe import configure_logging

SCOPE = {
    "type": "http", "method": "POST", "path": "/api/messages",
    "headers": [(b"host", b"x"), (b"content-type", b"application/json"),
                (b"authorization", b"Bearer agk_x"), (b"idempotency-key", b"k")],
}  # fmt: skip


async def inner(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 201, "headers": []})
    await send({"type": "http.response.body", "body": b"x" * 400})


async def send(message: Any) -> None:
    await trio.lowlevel.checkpoint()


async def per_request(app: Any, n: int) -> float:
    for _ in range(1000):  # warm up
        await app(SCOPE, None, send)
    started = time.process_time()
    for _ in range(n):
        await app(SCOPE, None, send)
    return (time.process_time() - started) / n * 1e6


async def main(n: int, sink: Any) -> None:
    wrapped = observe_requests(inner, HttpStats())
    for level in ("info", "warning"):
        configure_logging(level, "json", sink)
        bare = min([await per_request(inner, n) for _ in range(5)])
        observed = min([await per_request(wrapped, n) for _ in range(5)])
        print(f"{level:8} bare {bare:6.1f} us  observed {observed:6.1f} us  "
              f"added {observed - bare:5.1f} us/request")  # fmt: skip


if __name__ == "__main__":
    with open(os.devnull, "w") as devnull:
        trio.run(main, int(sys.argv[1]) if len(sys.argv) > 1 else 20_000, devnull)

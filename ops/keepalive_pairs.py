#!/usr/bin/env python3
"""Issue 19's keep-alive hang, as it was found: pairs of requests on one pooled
connection of an ordinary client (httpx), counting the second requests never answered.

Each pair: ``POST /api/accounts`` with ``content-type: text/plain`` and a JSON body
(refused 422 without the body being read), then ``POST /api/accounts`` urlencoded (201),
or with ``--get``: ``GET /health`` with a body, then ``GET /health``. The hang is a race,
so run it with the CPU busy, e.g. two ``python3 -c 'while True: pass' &`` on two cores.

    .venv/bin/python ops/keepalive_pairs.py http://127.0.0.1:4000 [--pairs 200] [--get]
"""

from __future__ import annotations

import argparse
import time

import httpx


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("base_url")
    parser.add_argument("--pairs", type=int, default=200)
    parser.add_argument("--timeout", type=float, default=5.0, help="seconds: a hang")
    parser.add_argument("--get", action="store_true", help="GET with a body, then GET")
    args = parser.parse_args()
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    hangs = errors = 0
    started = time.monotonic()
    with httpx.Client(base_url=args.base_url, timeout=args.timeout, limits=limits) as http:
        for _ in range(args.pairs):
            try:
                if args.get:
                    http.request("GET", "/health", content=b'{"x": 1}')
                    second = http.get("/health")
                else:
                    http.post(
                        "/api/accounts",
                        content=b'{"name": "first"}',
                        headers={"content-type": "text/plain"},
                    )
                    second = http.post("/api/accounts", data={"name": "second"})
                errors += second.status_code not in (200, 201)
            except httpx.TimeoutException:
                hangs += 1
            except httpx.TransportError:
                errors += 1
    elapsed = time.monotonic() - started
    print(
        f"{args.pairs} pairs in {elapsed:.1f} s: {hangs} hung (no answer in"
        f" {args.timeout:.0f} s), {errors} other failures"
    )


if __name__ == "__main__":
    main()

"""``--backlog-rss N`` mode: what N unclaimed messages to one recipient add to the RSS.

A mailbox keeps only a window of its oldest open messages in memory; the rest wait in
the ledger and the inbox view. This mode sends N messages (``--text-bytes`` of text
each) from one agent to another, nobody claims them, and reads the server's RSS before
and after. Then it claims a few, so that the reading after includes a window paged in.

With ``--dead-endpoint`` the recipient has a webhook endpoint on a loopback port where
nothing listens, and 8 attempts a delivery (over a day): every message's delivery fails
and waits for its retries, which a mailbox keeps live only a window's worth of.
"""

from __future__ import annotations

import argparse
import uuid
from functools import partial
from pathlib import Path
from typing import Any

import trio

from bench_lib.fixtures import Agent, open_accounts, prefill, set_webhook_endpoints
from bench_lib.http import Connection, json_request
from bench_lib.report import say
from bench_lib.servers import atp_server, free_port
from bench_lib.webhook_run import ALLOW_PRIVATE_WARNING

__all__ = ["print_result", "run"]

_CLAIMS = 10
_DEAD_ENDPOINT_ENV = {"ATP_WEBHOOK_ALLOW_PRIVATE": "1", "ATP_WEBHOOK_MAX_ATTEMPTS": "free=8"}


def run(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    """Send ``--backlog-rss`` messages to one recipient on a fresh server; RSS around it."""
    if args.backlog_rss < 1:
        raise ValueError("--backlog-rss needs a positive count")
    env = _DEAD_ENDPOINT_ENV if args.dead_endpoint else {}
    with atp_server(args.store, work, args.pg_url, extra_env=env) as server:
        say(f"ATP ({args.store}) on port {server.port}, pid {server.pid}")
        (account,) = trio.run(partial(open_accounts, server.port, 1))
        sender, recipient = account.agents
        send = partial(prefill, concurrency=args.concurrency, text_bytes=args.text_bytes)
        trio.run(partial(send, server.port, [(sender, recipient)], 200))  # warm-up
        trio.run(_claim, server.port, recipient, 200)
        if args.dead_endpoint:
            url = f"http://127.0.0.1:{free_port()}/hook"  # nothing listens there
            trio.run(set_webhook_endpoints, server.port, [(recipient, url)])
        server.wait_idle()
        before = server.rss_mb()
        trio.run(partial(send, server.port, [(sender, recipient)], args.backlog_rss,
                         progress="sent"))  # fmt: skip
        server.wait_idle()
        after = server.rss_mb()
        trio.run(_claim, server.port, recipient, _CLAIMS)
        server.wait_idle()
        claimed = server.rss_mb()
        issues = server.log_issues(expected=(ALLOW_PRIVATE_WARNING,))
    backlog = {
        "messages": args.backlog_rss,
        "text_bytes": args.text_bytes,
        "dead_endpoint": args.dead_endpoint,
        "before_mb": before,
        "after_mb": after,
        "claimed_mb": claimed,
    }
    return {"backlog": backlog, "server_log_issues": issues}


async def _claim(port: int, recipient: Agent, count: int) -> None:
    async with Connection(port) as conn:
        for _ in range(count):
            key = str(uuid.uuid4())
            body = {"lease_seconds": 60}
            data = json_request("POST", "/api/inbox/claims", port, body, token=recipient.token,
                                idempotency_key=key)  # fmt: skip
            status, _ = await conn.request(data)
            if status not in (200, 201):
                raise RuntimeError(f"claim answered {status}")


def print_result(args: argparse.Namespace, result: dict[str, Any]) -> None:
    backlog = result["backlog"]
    n = backlog["messages"]
    delta = backlog["after_mb"] - backlog["before_mb"]
    print(f"ATP backlog RSS ({args.store} store)")
    print(f"unclaimed messages    {n} to one recipient, {backlog['text_bytes']} bytes of text each")
    if backlog["dead_endpoint"]:
        print("webhook endpoint      dead: every delivery waits for its retries")
    print(f"server RSS before     {backlog['before_mb']:.1f} MB")
    print(f"server RSS after      {backlog['after_mb']:.1f} MB "
          f"({delta:+.1f} MB, {delta * 1024 / n:.2f} KiB per message)")  # fmt: skip
    print(f"after {_CLAIMS} claims       {backlog['claimed_mb']:.1f} MB")

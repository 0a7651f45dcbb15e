"""One end-to-end measurement of one system (ATP, RabbitMQ or NATS): fixtures, the
generator process, and the progress line. The default mode (``--scenarios e2e``), the
``--brokers`` comparison and the ``--history`` mode all measure through here.

ATP's pairs are fresh for every measurement (an account of two agents each: the
producer's and the consumer's), so that nothing a measurement left behind is claimed
by the next; the brokers' generators make fresh queues or streams themselves.
"""

from __future__ import annotations

import argparse
import uuid
from functools import partial
from typing import Any

import trio

from bench_lib.brokers import Broker, run_generator
from bench_lib.e2e_tally import SCENARIOS, tree_cpu_seconds
from bench_lib.fixtures import open_accounts
from bench_lib.report import say
from bench_lib.servers import Server, wait_cpu_idle

__all__ = ["SCENARIOS", "atp_pairs", "measure", "wait_idle"]


def atp_pairs(server: Server, count: int, concurrency: int = 16) -> list[dict[str, str]]:
    """``count`` fresh pairs: the producer's token, the recipient's address and token."""
    accounts = trio.run(partial(open_accounts, server.port, count, concurrency=concurrency))
    return [
        {"sender": a.agents[0].token, "to": a.agents[1].address, "recipient": a.agents[1].token}
        for a in accounts
    ]


def wait_idle(pid: int) -> float:
    """Wait until the server and its children are idle: ATP's audit follower, a child
    process, may still be working off what the last measurement sent."""
    return wait_cpu_idle(lambda: tree_cpu_seconds(pid))


def measure(
    args: argparse.Namespace,
    system: Server | Broker,
    scenario: str,
    clients: int,
    *,
    stop_after: int | None = None,
    seconds: float | None = None,
    quiet: bool = False,
) -> dict[str, Any]:
    """One generator run of ``scenario`` with ``clients`` pairs against ``system``, once
    it is idle. ``stop_after`` ends the run after that many messages (``seconds`` is
    then a cap)."""
    if isinstance(system, Server):
        name = "atp"
        target: dict[str, Any] = {
            "port": system.port,
            "pairs": atp_pairs(system, clients, args.concurrency),
        }
    else:
        name = system.name
        target = {"url": system.url}
    waited = wait_idle(system.pid)
    if not quiet:
        say(f"- {name} {scenario} x{clients} (idle after {waited:.1f} s)")
    spec = {
        "scenario": scenario,
        "pairs": clients,
        "batch": args.batch,
        "target": target,
        "server_pid": system.pid,
        "seconds": args.seconds if seconds is None else seconds,
        "warmup": 0.0 if stop_after is not None else args.warmup,
        "run_id": uuid.uuid4().hex[:10],
        "stop_after": stop_after,
    }
    result = run_generator(name, spec)
    result["target"] = name
    if not quiet:
        say(
            f"  {result['msg_per_s']:.0f} msg/s, p50 {result['p50_ms']:.1f} ms, "
            f"server {result['server_cpu_us_per_msg']:.0f} us/msg in the window, "
            f"{result['settled_cpu_us_per_msg']:.0f} settled, "
            f"{result['failed']} failed"
        )
    return result

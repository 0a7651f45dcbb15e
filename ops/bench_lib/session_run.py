"""``--sessions`` mode: ordered session turns, closed loop, on one session or on many.

Every turn of a session goes through that session's actor, which numbers the turns one
after the other. Many clients on one session therefore contend on one actor and show
its serial pace; one client on each of many sessions shows the actors side by side.
Each run gets fresh sessions: one free account per session, whose two agents open and
accept it. The load generator (``bench_lib.load``, scenario ``turn``) then drives the
clients, and the bench reads every transcript back and checks it against the sequences
that the 2xx answers carried. The ceiling at the same client count gives a ratio, as in
the default mode. No bar applies: figures only. See ops/README.md.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import trio

from bench_lib import report
from bench_lib.fixtures import Session, open_accounts, open_sessions, transcripts
from bench_lib.load_run import measure
from bench_lib.report import say
from bench_lib.servers import atp_server, ceiling_server

__all__ = ["PLAN", "print_result", "run"]

PLAN = "1x1,1x8,100x1"
_MAX_CLIENTS = 1024  # as the default mode's --clients
_SHOWN_PROBLEMS = 5


@dataclass(frozen=True)
class _Run:
    """One measurement: ``sessions`` fresh sessions, ``per_session`` clients on each."""

    sessions: int
    per_session: int

    @property
    def clients(self) -> int:
        return self.sessions * self.per_session


def _plan(text: str) -> list[_Run]:
    """``SESSIONSxCLIENTS`` items (clients per session), comma-separated; ``N`` is ``Nx1``."""
    runs = []
    for item in filter(None, (part.strip().lower() for part in text.split(","))):
        sessions, _, per_session = item.partition("x")
        if not sessions.isdigit() or not (per_session or "1").isdigit():
            raise ValueError(f"--sessions: {item!r} is not SESSIONSxCLIENTS, e.g. 1x8 or 100x1")
        runs.append(_Run(int(sessions), int(per_session or "1")))
    if not runs or any(r.sessions < 1 or r.per_session < 1 for r in runs):
        raise ValueError(f"--sessions: at least one run, all counts positive (default {PLAN})")
    if any(r.clients > _MAX_CLIENTS for r in runs):
        raise ValueError(f"--sessions: at most {_MAX_CLIENTS} clients in one run")
    return runs


def run(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    """The ceiling at each client count, then each run of the plan on fresh sessions."""
    plan = _plan(args.sessions)
    ceilings: dict[int, float] = {}
    if not args.no_ceiling:
        with ceiling_server(work) as ceiling:
            say(f"ceiling (bare Quart-Trio + Hypercorn) on port {ceiling.port}")
            dummy = [{"routes": [["ceiling-token", "atp://agent/agt_ceiling"]]}]
            for count in sorted({r.clients for r in plan}):
                ceilings[count] = measure(args, ceiling, "ceiling", "send", dummy * count)["rps"]
    rows: list[dict[str, Any]] = []
    with atp_server(args.store, work, args.pg_url) as server:
        say(f"ATP ({args.store}) on port {server.port}, pid {server.pid}")
        for n, planned in enumerate(plan):
            say(f"{planned.sessions} session(s), {planned.per_session} client(s) on each")
            sessions = trio.run(_open, server.port, planned.sessions, f"ses{n}", args.concurrency)
            clients = [
                {"session": s.id, "tokens": [s.initiator.token, s.recipient.token]}
                for s in sessions
                for _ in range(planned.per_session)
            ]
            row = measure(args, server, "atp", "turn", clients)
            read = trio.run(
                partial(transcripts, server.port, sessions, concurrency=args.concurrency)
            )
            row["check"] = _check(sessions, row.pop("turns"), read)
            row["sessions"], row["per_session"] = planned.sessions, planned.per_session
            ceiling_rps = ceilings.get(planned.clients)
            row["over_ceiling"] = row["rps"] / ceiling_rps if ceiling_rps else None
            say(f"  checked: {row['check']['ok_sessions']}/{planned.sessions} session(s) in order")
            rows.append(row)
        issues = server.log_issues()
    return {"rows": rows, "ceiling_rps": ceilings, "server_log_issues": issues}


async def _open(port: int, count: int, prefix: str, concurrency: int) -> list[Session]:
    """``count`` open sessions, each between the two agents of its own free account."""
    accounts = await open_accounts(port, count, prefix=prefix, concurrency=concurrency)
    pairs = [(a.agents[0], a.agents[1]) for a in accounts]
    return await open_sessions(port, pairs, concurrency=concurrency)


def _check(
    sessions: Sequence[Session],
    turns: list[list[Any]],
    read: Sequence[tuple[int, list[tuple[int, str]]]],
) -> dict[str, Any]:
    """Per session: the transcript is numbered 1..``last_sequence`` without gap or repeat;
    the sequences of the 2xx answers are unique, each one in the transcript with the
    message it answered; and the turns 2..``last_sequence`` are as many as those answers.

    ``turns`` are the load generator's ``[session id, sequence, message id]`` of every
    2xx, warm-up included. A turn committed whose answer was lost (a broken connection)
    would show here as one turn more than the answers.
    """
    answered: dict[str, list[tuple[int, str]]] = {s.id: [] for s in sessions}
    for session_id, sequence, message_id in turns:
        answered[session_id].append((int(sequence), str(message_id)))
    problems: list[str] = []
    bad = 0
    for session, (last, messages) in zip(sessions, read, strict=True):
        mine = answered[session.id]
        found = _problems(last, messages, mine)
        bad += bool(found)
        problems += [f"{session.id}: {text}" for text in found]
    return {
        "sessions": len(sessions),
        "ok_sessions": len(sessions) - bad,
        "answered": len(turns),
        "problems": problems[:_SHOWN_PROBLEMS],
        "problem_count": len(problems),
    }


def _problems(last: int, messages: list[tuple[int, str]], mine: list[tuple[int, str]]) -> list[str]:
    """What is wrong with one session (nothing: an empty list)."""
    found = []
    sequences = [sequence for sequence, _ in messages]
    if sequences != list(range(1, last + 1)):
        found.append(f"transcript is not numbered 1..{last} ({len(sequences)} messages)")
    if len({sequence for sequence, _ in mine}) != len(mine):
        found.append("a sequence was answered more than once")
    in_transcript = dict(messages)
    missing = [seq for seq, message_id in mine if in_transcript.get(seq) != message_id]
    if missing:
        found.append(f"{len(missing)} answered turn(s) not in the transcript, e.g. #{missing[0]}")
    if len(mine) != last - 1:
        found.append(f"{last - 1} turn(s) in the transcript, {len(mine)} answered 2xx")
    return found


def print_result(args: argparse.Namespace, result: dict[str, Any]) -> None:
    """The table, the correctness check and the failed requests."""
    window = f"{args.requests} requests/client" if args.requests else f"{args.seconds:g} s"
    print(f"ATP session turns: {args.store} store, {window} per run, {args.warmup:g} s warm-up")
    rows = result["rows"]
    print(report.session_table(rows))
    print(
        "\nvs ceiling: turns/s ÷ the bare stack's req/s at the same client count"
        + ("" if result["ceiling_rps"] else " (skipped)")
        + ". checked: sessions whose transcript matches the 2xx answers."
    )
    for row in rows:
        for problem in row["check"]["problems"]:
            print(f"  {row['sessions']}x{row['per_session']}: {problem}")
        more = row["check"]["problem_count"] - len(row["check"]["problems"])
        if more > 0:
            print(f"  {row['sessions']}x{row['per_session']}: {more} more problem(s)")
    failed = sum(row["failed"] for row in rows)
    sent = sum(row["sent"] for row in rows)
    print(f"Failed requests (non-2xx or broken connection): {failed} of {sent} sent")
    for row in rows:
        report.print_failures(f"{row['sessions']}x{row['per_session']} turn", row)

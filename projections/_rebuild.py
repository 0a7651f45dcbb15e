"""Rebuild the views from the ledger alone, and dump them to compare."""

from __future__ import annotations

from typing import Any

from atp.projections._runner import ProjectionRunner

__all__ = ["dump_views", "rebuild"]


async def rebuild(runner: ProjectionRunner) -> int:
    """Empty every view and replay the whole ledger into it; return the final position."""
    async with runner.applying():
        await runner.ledger.bridge.run(runner.reset)
    await runner.catch_up()
    return runner.position


def dump_views(runner: ProjectionRunner) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every view table, sorted: equal dumps mean equal views."""
    dump: dict[str, list[tuple[Any, ...]]] = {}
    for view in runner.views:
        for table in view.tables:
            rows = runner.store.query(f"SELECT * FROM {table}")
            dump[table] = sorted(rows, key=repr)
    return dump

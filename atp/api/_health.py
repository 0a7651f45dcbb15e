"""``GET /health`` (the process answers) and ``GET /ready`` (it can serve traffic)."""

from __future__ import annotations

from typing import Any

import trio
from quart import Blueprint

from atp.actors import Runtime
from atp.api._requests import runtime

__all__ = ["blueprint"]

blueprint = Blueprint("health", __name__)

# The reference gives the database check 2 s (contract §1.3); past it, "error".
_CHECK_TIMEOUT = 2.0


@blueprint.get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@blueprint.get("/ready")
async def ready() -> tuple[dict[str, Any], int]:
    """Each check is ``ok``/``error``/``disabled``; never PIDs, SQL, URLs or secrets (§1.3).

    The key set is the reference's, exactly: views stuck on an event they cannot apply
    count as a ``database`` error (the log names the event), not as a key of their own.
    """
    rt = runtime()
    checks = {
        "database": "ok" if await _database_ok(rt) else "error",
        "transport_runtime": "ok" if rt.supervisor.is_running else "error",
        "webhook_dispatcher": "ok" if rt.dispatcher.is_running else "error",
    }
    healthy = all(value in ("ok", "disabled") for value in checks.values())
    return {"status": "ok" if healthy else "error", "checks": checks}, 200 if healthy else 503


async def _database_ok(rt: Runtime) -> bool:
    """Both stores answer within the timeout, the views are not stuck, and the writer
    lock (if any) is held.

    A store known to be away is not asked (the answer must not wait on it); a check that
    finds it failing reports that, so the store is probed until it is back.
    """
    if rt.ledger.bridge.store.away or rt.projections.stuck is not None:
        return False
    if not rt.journal.may_commit:  # the writer lock is lost: no write would commit
        return False
    deadline = trio.current_time() + _CHECK_TIMEOUT
    try:
        await rt.queries.bridge.probe(
            rt.queries.store.query, "SELECT count(*) FROM atp_tracking", within=_CHECK_TIMEOUT
        )
        await rt.ledger.bridge.probe(
            rt.ledger.app.recorder.max_notification_id,
            within=max(0.0, deadline - trio.current_time()),
        )
    except Exception:
        return False
    return True

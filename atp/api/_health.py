"""``GET /health`` (the process answers) and ``GET /ready`` (it can serve traffic)."""

from __future__ import annotations

from typing import Any

from quart import Blueprint

from atp.api._requests import runtime

__all__ = ["blueprint"]

blueprint = Blueprint("health", __name__)


@blueprint.get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@blueprint.get("/ready")
async def ready() -> tuple[dict[str, Any], int]:
    """Each check is ``ok``/``error``/``disabled``; never PIDs, SQL, URLs or secrets (§1.3)."""
    rt = runtime()
    try:
        await rt.queries.bridge.run(rt.queries.store.query, "SELECT count(*) FROM atp_tracking")
        await rt.ledger.bridge.run(rt.ledger.app.recorder.max_notification_id)
        database = "ok"
    except Exception:
        database = "error"
    checks = {
        "database": database,
        "transport_runtime": "ok" if rt.supervisor.is_running else "error",
        "webhook_dispatcher": "ok" if rt.dispatcher.is_running else "error",
    }
    healthy = all(value in ("ok", "disabled") for value in checks.values())
    return {"status": "ok" if healthy else "error", "checks": checks}, 200 if healthy else 503

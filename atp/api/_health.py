"""``GET /health`` (the process answers) and ``GET /ready`` (it can serve traffic)."""

from __future__ import annotations

from typing import Any

from quart import Blueprint

from atp.api._requests import carrier

__all__ = ["blueprint"]

blueprint = Blueprint("health", __name__)


@blueprint.get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@blueprint.get("/ready")
async def ready() -> tuple[dict[str, Any], int]:
    """Each check is ``ok``/``error``/``disabled``; never PIDs, SQL, URLs or secrets (§1.3).

    The key set is the reference's, exactly: views stuck on an event they cannot apply
    count as a ``database`` error (the log names the event), not as a key of their own.
    """
    checks = await carrier().ready()
    healthy = all(value in ("ok", "disabled") for value in checks.values())
    return {"status": "ok" if healthy else "error", "checks": checks}, 200 if healthy else 503

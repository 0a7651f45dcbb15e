"""``health`` and ``ready``: is the carrier up, and can it serve?

Both read the server from ``--server`` or ``config.toml``, and need no key. ``ready``
prints the carrier's checks and exits 1 when one fails (``GET /ready`` answers 503),
so a script can wait on it.
"""

from __future__ import annotations

from atp.cli._context import Context
from atp.cli._output import CliError, as_json

__all__ = ["health", "ready"]


def _server(ctx: Context) -> str:
    return ctx.invocation.options.get("--server") or ctx.config.server_url


def health(ctx: Context) -> None:
    server = _server(ctx)
    with ctx.client(server) as client:
        answer = client.health()
    ctx.out.report([f"Server: {server}", f"Health: {answer.status}"], as_json(answer))


def ready(ctx: Context) -> None:
    server = _server(ctx)
    with ctx.client(server) as client:
        readiness = client.ready()
    checks = [f"- {name}: {value}" for name, value in sorted(readiness.checks.items())]
    state = "ready" if readiness.ready else "not ready"
    ctx.out.report([f"Server: {server}", f"Ready: {state}", *checks], as_json(readiness))
    if not readiness.ready:
        failed = [name for name, value in readiness.checks.items() if value == "error"]
        raise CliError(f"the carrier is not ready ({', '.join(failed) or readiness.status})")

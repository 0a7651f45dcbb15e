"""The Quart-Trio app: routes, limits and the error envelope, bound to one runtime."""

from __future__ import annotations

from quart import request
from quart_trio import QuartTrio

from actors import Runtime
from atp.api import (
    _accounts,
    _agents,
    _dead_letters,
    _health,
    _inbox,
    _messages,
    _session_stream,
    _sessions,
)
from atp.api._errors import install_error_handlers
from atp.api._requests import read_params

__all__ = ["create_app"]


def create_app(runtime: Runtime) -> QuartTrio:
    """An ASGI app serving the contract's routes from ``runtime``.

    The app starts no tasks of its own: the runtime's tasks are owned by the
    caller's nursery (``atp.serve``), so shutdown order is explicit.
    """
    app = QuartTrio("atp")
    app.config["ATP_RUNTIME"] = runtime
    app.config["MAX_CONTENT_LENGTH"] = runtime.settings.max_body_bytes
    app.config["JSON_SORT_KEYS"] = False
    app.json.sort_keys = False  # type: ignore[attr-defined]
    for module in (
        _health, _accounts, _agents, _messages, _inbox, _dead_letters, _sessions, _session_stream,
    ):  # fmt: skip
        app.register_blueprint(module.blueprint)
    app.before_request(_parse_body)
    install_error_handlers(app)
    return app


async def _parse_body() -> None:
    if request.method in ("POST", "PUT", "PATCH"):
        await read_params()

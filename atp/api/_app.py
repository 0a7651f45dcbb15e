"""The Quart-Trio app: routes, limits and the error envelope, bound to one carrier.

Around the routes, the reference's pipeline (contract §1.0) as far as a client can
see it: every response carries an ``x-request-id`` (``Plug.RequestId``); the query
string and the body are parsed before routing; a POST whose body says
``"_method": "PUT"`` (or PATCH, DELETE) is routed as that method
(``Plug.MethodOverride``); empty path segments do not count (``/api//agents/x/`` is
``/api/agents/x``); OPTIONS is a method like any other, so it finds no route (404).
"""

from __future__ import annotations

from typing import Any

from quart import Response, request
from quart.globals import request_ctx
from quart_trio import QuartTrio
from werkzeug.routing import BaseConverter

from atp.actors import Carrier
from atp.api import (
    _accounts,
    _agents,
    _audit,
    _batches,
    _dead_letters,
    _events,
    _health,
    _inbox,
    _inbox_stream,
    _messages,
    _metrics,
    _openapi,
    _replays,
    _session_stream,
    _sessions,
)
from atp.api._access_log import HttpStats, note_route, observe_requests
from atp.api._errors import install_error_handlers
from atp.api._requests import check_query, method_override, read_params
from atp.api.a2a import BLUEPRINTS as A2A_BLUEPRINTS
from atp.api.amtp import BLUEPRINTS as AMTP_BLUEPRINTS
from atp.observe import current_request_id, new_request_id

__all__ = ["create_app"]


def create_app(carrier: Carrier) -> QuartTrio:
    """An ASGI app serving the contract's routes from ``carrier``.

    The app starts no tasks of its own: the carrier's tasks are owned by the
    caller's nursery (``atp.serve``), so shutdown order is explicit.
    """
    app = QuartTrio("atp")
    app.config["ATP_CARRIER"] = carrier
    # The largest body any route takes; read_params holds each route to its own.
    settings = carrier.settings
    app.config["MAX_CONTENT_LENGTH"] = max(settings.max_body_bytes, settings.batch_max_bytes)
    app.config["BODY_TIMEOUT"] = carrier.settings.body_timeout  # then 408 (atp/http)
    app.config["JSON_SORT_KEYS"] = False
    app.config["PROVIDE_AUTOMATIC_OPTIONS"] = False  # read as each route is added
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.url_map.converters["default"] = _NulFreeSegment  # read as each route is added
    for module in (
        _health,
        _openapi,
        _accounts,
        _agents,
        _messages,
        _batches,
        _inbox,
        _inbox_stream,
        _dead_letters,
        _sessions,
        _session_stream,
        _metrics,
        _audit,
        _events,
        _replays,
    ):
        app.register_blueprint(module.blueprint)
    for blueprint in (*A2A_BLUEPRINTS, *AMTP_BLUEPRINTS):
        app.register_blueprint(blueprint)
    app.before_request(_parse_params)
    app.after_request(_add_request_id)
    app.after_request(note_route)
    install_error_handlers(app)
    stats = HttpStats()
    app.config["ATP_HTTP_STATS"] = stats  # the batch routes and the streams count in it
    app.config["ATP_METRICS"] = _metrics.registry(carrier, stats)
    app.asgi_app = observe_requests(  # type: ignore[method-assign,assignment]
        _without_empty_segments(app.asgi_app), stats
    )
    return app


class _NulFreeSegment(BaseConverter):
    """A path parameter as Werkzeug's default converter reads it, minus the NUL character.

    No id holds a NUL, and PostgreSQL cannot compare text with one, so a ``%00`` in an
    id matches no route: ``404 not_found``, as for any unknown path.
    """

    regex = "[^/\x00]+"


async def _parse_params() -> None:
    if (request.blueprint or "").startswith(("a2a", "amtp")):
        return  # A2A and AMTP read their own requests and answer in their own shapes
    check_query(request.query_string)
    if request.method in ("POST", "PUT", "PATCH"):
        await read_params()
        if request.method == "POST" and (method := method_override()) is not None:
            _route_as(method)


def _route_as(method: str) -> None:
    """Route this POST as ``method`` instead (its params say so: ``_method``)."""
    request.method = method
    request.routing_exception = None
    request_ctx.url_adapter.default_method = method  # type: ignore[union-attr]
    request_ctx.match_request()


async def _add_request_id(response: Response) -> Response:
    """The request's id, fixed when it arrived (``_access_log``): the caller's
    ``x-request-id`` if it is 20-200 bytes long, else a new one."""
    response.headers["x-request-id"] = current_request_id() or new_request_id()
    return response


def _without_empty_segments(app: Any) -> Any:
    """``app`` seeing paths without empty segments: Plug splits a path on "/" and drops
    them, Werkzeug's routing does not."""

    async def asgi(scope: dict[str, Any], receive: Any, send: Any) -> None:
        path: str = scope.get("path", "")
        if "//" in path or (path.endswith("/") and path != "/"):
            scope = {**scope, "path": "/" + "/".join(part for part in path.split("/") if part)}
        await app(scope, receive, send)

    return asgi

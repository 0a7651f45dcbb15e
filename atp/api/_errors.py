"""The only error handlers: every failure leaves as the contract's envelope.

``AtpError`` carries its own status and code. Routing failures from Quart/Werkzeug
(unknown route, wrong method, body over the limit or too slow) are translated to the same
envelope. Anything else is a bug: it is logged by class only (its text may hold a
payload or a secret) and answered 500 ``unexpected_error``.
"""

from __future__ import annotations

import logging

from quart import Quart, Response, jsonify
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge, RequestTimeout

from atp.errors import (
    AtpError,
    MalformedRequest,
    NotFound,
    RequestTimedOut,
    RequestTooLarge,
    UnexpectedError,
)

__all__ = ["install_error_handlers"]

log = logging.getLogger("atp.api")


def _respond(error: AtpError) -> Response:
    response = jsonify(error.envelope())
    response.status_code = error.status
    return response


def install_error_handlers(app: Quart) -> None:
    """Register the handlers on ``app``."""

    @app.errorhandler(AtpError)
    async def atp_error(error: AtpError) -> Response:
        return _respond(error)

    @app.errorhandler(HTTPException)
    async def http_error(error: HTTPException) -> Response:
        if isinstance(error, RequestEntityTooLarge | RequestTimeout):
            # The rest of the body may still be on its way; a fresh connection keeps the
            # next request from being read after it.
            too_large = isinstance(error, RequestEntityTooLarge)
            response = _respond(RequestTooLarge() if too_large else RequestTimedOut())
            response.headers["Connection"] = "close"
            return response
        if error.code in (404, 405):
            return _respond(NotFound())
        return _respond(MalformedRequest())

    @app.errorhandler(Exception)
    async def unexpected(error: Exception) -> Response:
        log.error("unexpected error in request (%s)", type(error).__name__)
        return _respond(UnexpectedError())

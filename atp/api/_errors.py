"""The only error handlers: every failure leaves as the contract's envelope.

``AtpError`` carries its own status and code; ``StoreUnavailable`` (503) also says when
to try again (``Retry-After``). Routing failures from Quart/Werkzeug (unknown route,
wrong method, body over the limit or too slow) are translated to the same envelope.
Anything else is a bug: it is logged by class and place only (its text may hold a
payload or a secret) and answered 500 ``unexpected_error``. Quart's own report of an
error that escapes these handlers (an error inside one of them, or in an
``after_request``) is replaced by the same one line, without the traceback.
"""

from __future__ import annotations

import logging
from types import TracebackType

from quart import Quart, Response, jsonify
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge, RequestTimeout

from atp.errors import (
    AtpError,
    MalformedRequest,
    NotFound,
    RequestTimedOut,
    RequestTooLarge,
    StoreUnavailable,
    UnexpectedError,
)
from atp.observe import describe_exception

__all__ = ["install_error_handlers"]

log = logging.getLogger("atp.api")


def _respond(error: AtpError) -> Response:
    response = jsonify(error.envelope())
    response.status_code = error.status
    if isinstance(error, StoreUnavailable):
        response.headers["Retry-After"] = str(error.retry_after)
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
        if error.code is not None and error.code >= 500:
            # Quart's InternalServerError for an error no handler took: not the client's.
            return _respond(UnexpectedError())
        return _respond(MalformedRequest())

    @app.errorhandler(Exception)
    async def unexpected(error: Exception) -> Response:
        log.error("unexpected error in request (%s)", describe_exception(error))
        return _respond(UnexpectedError())

    app.log_exception = _log_exception  # type: ignore[method-assign,assignment]


def _log_exception(
    exc_info: tuple[type, BaseException, TracebackType] | tuple[None, None, None],
) -> None:
    """Quart's hook for errors no handler took: one line, class and place."""
    log.error("unhandled error in request (%s)", describe_exception(exc_info[1]))

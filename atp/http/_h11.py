"""Hypercorn's own answers to broken requests, in the contract's error envelope.

h11 refuses some requests before any app sees them: a request line and headers over
Hypercorn's ``h11_max_incomplete_size`` (16 KiB) get 431; a malformed request line or
header (a NUL byte in a value, a bad name, conflicting lengths) and a body cut short by
the client's EOF get 400; an unknown transfer coding gets 501. Hypercorn writes those
answers itself, with an empty body, so a client that parses the contract's envelope
``{"error": {"code", "message"}}`` finds nothing. Hypercorn has no setting for them, so
``EnvelopeH11Protocol`` overrides the one method that writes them, and
``use_envelope_protocol_errors`` makes Hypercorn's protocol switch
(``hypercorn.protocol.ProtocolWrapper``) build it for every HTTP/1.1 connection. Both
names are Hypercorn internals (0.18); ``tests/http/test_h11.py`` fails if an
upgrade changes them.
"""

from __future__ import annotations

import json

import h11
import hypercorn.protocol
from hypercorn.protocol.h11 import H11Protocol

from atp.errors import MalformedRequest
from atp.observe import new_request_id

__all__ = ["EnvelopeH11Protocol", "use_envelope_protocol_errors"]

# Every such refusal is ``invalid_request`` with the status h11 chose (docs/api.md).
_BODY = json.dumps(MalformedRequest().envelope(), separators=(",", ":")).encode()


class EnvelopeH11Protocol(H11Protocol):
    """Hypercorn's HTTP/1.1 protocol, answering its own refusals with the envelope."""

    async def _send_error_response(self, status_code: int) -> None:
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", b"%d" % len(_BODY)),
            (b"connection", b"close"),
            (b"x-request-id", new_request_id().encode()),
            *self.config.response_headers("h11"),
        ]
        await self._send_h11_event(h11.Response(status_code=status_code, headers=headers))
        await self._send_h11_event(h11.Data(data=_BODY))
        await self._send_h11_event(h11.EndOfMessage())


def use_envelope_protocol_errors() -> None:
    """Make every HTTP/1.1 connection Hypercorn serves from now on use
    :class:`EnvelopeH11Protocol` (idempotent; call before serving)."""
    setattr(hypercorn.protocol, "H11Protocol", EnvelopeH11Protocol)  # noqa: B010

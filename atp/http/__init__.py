"""The HTTP server around the API: Hypercorn's connections, driven so that each one ends.

The Quart-Trio app (``atp.api``) answers requests; this package owns what happens on
the connections around them, where issue 19 found Hypercorn and Quart-Trio leaving
connections open forever, descriptors running out and slow bodies held without end:

- ``_exchange``: every request/response exchange reaches the end Hypercorn expects
  (the body read before the answer, the last ``send`` never cancelled), so keep-alive,
  ``Connection: close`` and the idle timeout work;
- ``_h11``: Hypercorn's own refusals (431, 400) carry the error envelope;
- ``_limits``: the open-files limit, raised at start, and the connection cap below it;
- ``_gate`` and ``_server``: the accept loop that holds to the cap and refuses the
  excess at once, with a log that cannot flood.
"""

from atp.http._exchange import guard_exchanges
from atp.http._gate import ConnectionGate, GateCollector, Tally
from atp.http._h11 import EnvelopeH11Protocol, use_envelope_protocol_errors
from atp.http._limits import (
    CONNECTIONS_CEILING,
    OpenFiles,
    max_connections,
    raise_open_files_limit,
    room_for_connections,
)
from atp.http._server import serve_connections

__all__ = [
    "CONNECTIONS_CEILING",
    "ConnectionGate",
    "EnvelopeH11Protocol",
    "GateCollector",
    "OpenFiles",
    "Tally",
    "guard_exchanges",
    "max_connections",
    "raise_open_files_limit",
    "room_for_connections",
    "serve_connections",
    "use_envelope_protocol_errors",
]

"""ATP: the Agent Transfer Protocol carrier.

A durable, event-sourced carrier for agent-to-agent messages. The server lives in
``atp.serve``; this package root stays import-light so the CLI and client start fast.

The layers, each importing only those below it (packages on one line do not import
each other; ``[tool.importlinter]`` in pyproject.toml, tests/test_boundaries.py)::

    atp.__main__
    atp.cli                                   the command line
    atp.serve                                 wires the parts and owns their tasks
    atp.api | atp.http                        the HTTP edge, and the server around it
    atp.actors                                live state: actors, router, journal, pushes
    atp.audit                                 the audit log, a follower of the ledger
    atp.projections                           the views and their runner
    atp.ledger                                eventsourcing, the stores, the thread bridge
    atp.wire | atp.push | atp.client          wire documents, push client, client library
    atp.webhooks | atp.domain                 webhook signing; aggregates and events
    atp.observe | atp.sealing | atp.errors    logs, sealed secrets, the error envelope
    atp.settings
"""

__version__ = "0.1.0"
__all__ = ["__version__"]

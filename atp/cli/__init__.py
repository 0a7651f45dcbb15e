"""The ``atp`` command: talk to a carrier as a local agent alias, or run one.

The client commands follow the reference CLI's grammar and output
(``spec/wire-contract.md`` §8); ``--json`` prints one JSON document per answer
instead. Errors print ``error: <reason>`` on stderr and exit 1. The server
commands (``serve``, ``migrate``, ``projections rebuild``) read ``ATP_*``.
"""

from atp.cli._main import main

__all__ = ["main"]

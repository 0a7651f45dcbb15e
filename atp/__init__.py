"""ATP: the Agent Transfer Protocol carrier.

A durable, event-sourced carrier for agent-to-agent messages. The server lives in
``atp.serve``; this package root stays import-light so the CLI and client start fast.
"""

__version__ = "0.1.0"
__all__ = ["__version__"]

"""The HTTP edge: parse, authenticate, ask the owning actor or read a view, answer."""

from atp.api._app import create_app

__all__ = ["create_app"]

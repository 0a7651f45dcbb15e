"""The ``atp`` command: run and operate the carrier.

atp serve                  run the server (ATP_* environment configures it)
atp migrate                apply migrations/ to the configured store
atp projections rebuild    rebuild every read model from the ledger
"""

from __future__ import annotations

import argparse
import logging
import sys

import trio

from atp.settings import Settings

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="atp", description="ATP carrier")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("serve", help="run the carrier (HTTP API, actors, projections)")
    commands.add_parser("migrate", help="apply the read-model migrations")
    projections = commands.add_parser("projections", help="read-model maintenance")
    projections.add_argument("action", choices=["rebuild"])
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``atp`` console script."""
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        settings = Settings.from_env()
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if args.command == "serve":
        from atp.serve import serve

        trio.run(serve, settings)
    elif args.command == "migrate":
        from projections import apply_migrations, open_view_store

        store = open_view_store(settings)
        try:
            applied = apply_migrations(store)
        finally:
            store.close()
        print(f"applied {len(applied)} migration(s): {', '.join(applied) or 'none needed'}")
    elif args.command == "projections":
        trio.run(_rebuild, settings)
    return 0


async def _rebuild(settings: Settings) -> None:
    from atp.serve import open_runtime
    from projections import rebuild

    async with open_runtime(settings) as runtime:
        position = await rebuild(runtime.projections)
    print(f"rebuilt read models up to notification {position}")

"""The stack's ceiling: a bare Quart-Trio app on ``hypercorn.trio.serve``, in its own process.

One POST route (the path the send scenario uses) parses the JSON body and answers a
small JSON 201; ``GET /ready`` answers 200. Hypercorn is configured as ``atp serve``
configures it (no access log, one process, one ``trio.run``).

    python -m bench_lib.ceiling --port 8123
"""

from __future__ import annotations

import argparse
import signal
from typing import Any

import trio
from hypercorn.config import Config
from hypercorn.trio import serve
from quart import request
from quart_trio import QuartTrio

__all__ = ["app", "main"]

app = QuartTrio(__name__)


@app.post("/api/messages")
async def accept() -> tuple[dict[str, Any], int]:
    params = await request.get_json(force=True)
    return {"id": "msg_ceiling", "accepted": isinstance(params, dict)}, 201


@app.get("/ready")
async def ready() -> dict[str, str]:
    return {"status": "ok"}


async def _serve(port: int) -> None:
    config = Config()
    config.bind = [f"127.0.0.1:{port}"]
    config.accesslog = None
    shutdown = trio.Event()
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async with trio.open_nursery() as nursery:

            async def wait_for_signal() -> None:
                async for _ in signals:
                    shutdown.set()
                    return

            nursery.start_soon(wait_for_signal)
            await serve(app, config, shutdown_trigger=shutdown.wait)
            nursery.cancel_scope.cancel()


def main() -> None:
    parser = argparse.ArgumentParser(description="bare Quart-Trio + Hypercorn endpoint")
    parser.add_argument("--port", type=int, required=True)
    trio.run(_serve, parser.parse_args().port)


if __name__ == "__main__":
    main()

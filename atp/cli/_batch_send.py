"""``atp send --from-file FILE``: every message of a JSON Lines file, sent in batches.

Each line is one message: ``{"to": <alias or address>, "text": "..."}`` or, instead of
``text``, an A2A ``payload``; an ``idempotency_key`` may be given. Lines go out in
batches of ``BATCH`` through ``POST /api/messages/batch``, each batch with one key the
client keeps across retries. Running the file again sends its keyed lines' messages
once only (a keyed ``text`` line makes the same A2A message each time); a line without
a key is sent again.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

from atp.cli._context import Context, text_payload
from atp.cli._output import CliError, as_json
from atp.client import BatchResult

__all__ = ["BATCH", "send_file"]

BATCH = 500  # the carrier's default limit (ATP_BATCH_MAX_MESSAGES)
_KEYED = uuid.UUID("5b0e8a52-6f0c-4d59-9a43-3c1f2f0e7a11")  # namespace of keyed lines' ids


def send_file(ctx: Context) -> None:
    me = ctx.identity()
    path = ctx.invocation.options.get("--from-file")
    if path is None:
        raise CliError('usage: atp send <alias-or-address> "<text>" | atp send --from-file FILE')
    items = [_item(ctx, number, line) for number, line in _lines(Path(path))]
    results: list[BatchResult] = []
    with ctx.client() as client:
        for start in range(0, len(items), BATCH):
            results += client.send_batch(items[start : start + BATCH], token=me.token)
    refused = [(n, r) for n, r in enumerate(results, 1) if r.error is not None]
    lines = [f"Sent {len(results) - len(refused)} of {len(results)} messages from {path}."]
    lines += [f"Message {n} refused: {r.error}" for n, r in refused]
    ctx.out.report(lines, {"results": [as_json(r.document) for r in results]})
    if refused:
        raise CliError(f"{len(refused)} of {len(results)} messages were refused")


def _lines(path: Path) -> list[tuple[int, str]]:
    with path.open(encoding="utf-8") as file:
        return [(n, line) for n, line in enumerate(file, 1) if line.strip()]


def _item(ctx: Context, number: int, line: str) -> dict[str, Any]:
    """One line as a batch item (``to`` resolved, ``text`` made a payload)."""
    try:
        entry = json.loads(line)
    except ValueError:
        raise CliError(f"line {number}: not JSON") from None
    if not isinstance(entry, dict) or not isinstance(entry.get("to"), str):
        raise CliError(f'line {number}: expected {{"to": ..., "text" or "payload": ...}}')
    if ("text" in entry) == ("payload" in entry):
        raise CliError(f'line {number}: give one of "text" and "payload"')
    address, _ = ctx.resolve(entry["to"])
    key = entry.get("idempotency_key")
    if "payload" in entry:
        payload = entry["payload"]
    else:  # a keyed line makes the same A2A message each time: a re-run replays it
        message_id = f"cli-msg-{uuid.uuid5(_KEYED, key).hex}" if isinstance(key, str) else None
        payload = text_payload(str(entry["text"]), message_id=message_id)
    item = {"to": address, "payload": payload}
    if key is not None:
        item["idempotency_key"] = key
    return item

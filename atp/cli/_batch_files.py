"""``atp send --from-file FILE`` and ``atp ack --from-file FILE``: every line of a JSON
Lines file, in batches.

Each line is one message: ``{"to": <alias or address>, "text": "..."}`` or, instead of
``text``, an A2A ``payload``; an ``idempotency_key`` may be given. Lines go out in
batches of ``BATCH`` through ``POST /api/messages/batch``, each batch with one key the
client keeps across retries. Running the file again sends its keyed lines' messages
once only (a keyed ``text`` line makes the same A2A message each time); a line without
a key is sent again.

For ``ack``, each line is ``{"delivery_id", "status"}`` with an optional ``text`` (or
A2A ``payload``) and ``idempotency_key``, sent through ``POST /api/deliveries/acks``;
a keyed ``text`` line makes the same A2A answer each time, as for sends.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from atp.cli._context import Context, text_payload
from atp.cli._output import CliError, as_json
from atp.client import BatchResult, Client

__all__ = ["BATCH", "ack_file", "send_file"]

BATCH = 500  # the carrier's default limit (ATP_BATCH_MAX_MESSAGES)
_KEYED = uuid.UUID("5b0e8a52-6f0c-4d59-9a43-3c1f2f0e7a11")  # namespace of keyed lines' ids


def send_file(ctx: Context) -> None:
    path = _path(ctx, 'atp send <alias-or-address> "<text>" | atp send --from-file FILE')
    items = [_item(ctx, number, line) for number, line in _lines(path)]
    results = _in_batches(ctx, items, Client.send_batch)
    _report(ctx, path, results, ("Sent", "messages", "Message"))


def ack_file(ctx: Context) -> None:
    path = _path(ctx, "atp ack <delivery-id> --<status> | atp ack --from-file FILE")
    items = [_ack_item(number, line) for number, line in _lines(path)]
    results = _in_batches(ctx, items, Client.ack_batch)
    _report(ctx, path, results, ("Recorded", "ACKs", "ACK"))


def _in_batches(
    ctx: Context,
    items: list[dict[str, Any]],
    method: Callable[..., tuple[BatchResult, ...]],
) -> list[BatchResult]:
    """Every item through the client's batch ``method``, ``BATCH`` at a time."""
    me = ctx.identity()
    results: list[BatchResult] = []
    with ctx.client() as client:
        for start in range(0, len(items), BATCH):
            results += method(client, items[start : start + BATCH], token=me.token)
    return results


def _path(ctx: Context, usage: str) -> Path:
    path = ctx.invocation.options.get("--from-file")
    if path is None:
        raise CliError(f"usage: {usage}")
    return Path(path)


def _report(ctx: Context, path: Path, results: list[BatchResult], words: tuple[str, ...]) -> None:
    """How many went through and each refused line; exit 1 if any was refused."""
    done, plural, single = words
    refused = [(n, r) for n, r in enumerate(results, 1) if r.error is not None]
    lines = [f"{done} {len(results) - len(refused)} of {len(results)} {plural} from {path}."]
    lines += [f"{single} {n} refused: {r.error}" for n, r in refused]
    ctx.out.report(lines, {"results": [as_json(r.document) for r in results]})
    if refused:
        raise CliError(f"{len(refused)} of {len(results)} {plural} were refused")


def _ack_item(number: int, line: str) -> dict[str, Any]:
    """One line as an ACK item (``text`` made an agent's A2A answer)."""
    entry = _entry(number, line)
    if not isinstance(entry.get("delivery_id"), str) or "status" not in entry:
        raise CliError(f'line {number}: expected {{"delivery_id": ..., "status": ...}}')
    if "text" in entry and "payload" in entry:
        raise CliError(f'line {number}: give at most one of "text" and "payload"')
    item = {k: v for k, v in entry.items() if k != "text"}
    if "text" in entry:
        message_id = _keyed_id(entry.get("idempotency_key"))
        item["payload"] = text_payload(str(entry["text"]), agent=True, message_id=message_id)
    return item


def _keyed_id(key: object) -> str | None:
    """A keyed line's A2A message id, the same on every run (so a re-run replays it)."""
    return f"cli-msg-{uuid.uuid5(_KEYED, key).hex}" if isinstance(key, str) else None


def _entry(number: int, line: str) -> dict[str, Any]:
    try:
        entry = json.loads(line)
    except ValueError:
        raise CliError(f"line {number}: not JSON") from None
    if not isinstance(entry, dict):
        raise CliError(f"line {number}: not a JSON object")
    return entry


def _lines(path: Path) -> list[tuple[int, str]]:
    with path.open(encoding="utf-8") as file:
        return [(n, line) for n, line in enumerate(file, 1) if line.strip()]


def _item(ctx: Context, number: int, line: str) -> dict[str, Any]:
    """One line as a batch item (``to`` resolved, ``text`` made a payload)."""
    entry = _entry(number, line)
    if not isinstance(entry.get("to"), str):
        raise CliError(f'line {number}: expected {{"to": ..., "text" or "payload": ...}}')
    if ("text" in entry) == ("payload" in entry):
        raise CliError(f'line {number}: give one of "text" and "payload"')
    address, _ = ctx.resolve(entry["to"])
    key = entry.get("idempotency_key")
    if "payload" in entry:
        payload = entry["payload"]
    else:
        payload = text_payload(str(entry["text"]), message_id=_keyed_id(key))
    item = {"to": address, "payload": payload}
    if key is not None:
        item["idempotency_key"] = key
    return item

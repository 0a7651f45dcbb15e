"""A message's history: its audit records, each with one line a person can read."""

from __future__ import annotations

from datetime import datetime
from typing import Any

__all__ = ["describe", "history"]


def _when(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text.replace("Z", "+00:00"))


def describe(record: dict[str, Any], latency_ms: float | None = None) -> str:
    """One line for one record of a message (or its session)."""
    data = record["data"]
    actor = record["actor"]
    kind = record["type"]
    if kind == "message.sent":
        session = f" in session {data['session_id']}" if data.get("session_id") else ""
        return (
            f"sent by {data['sender_agent_id']} to {data['recipient_agent_id']}{session}"
            f" ({data['trust']}), expires {data['expires_at']}"
        )
    if kind == "message.rejected":
        return "refused: the recipient's sender policy blocks the sender"
    if kind == "message.expired":
        return "expired: nobody took it before it expired"
    if kind == "message.canceled":
        return f"canceled by its sender {actor} before anyone took it"
    if kind == "delivery.webhook_scheduled":
        return f"webhook delivery {data['delivery_id']} opened ({data['max_attempts']} attempts)"
    if kind == "delivery.leased":
        return f"claimed by {actor}: leased until {data['leased_until']} ({data['delivery_id']})"
    if kind == "delivery.lease_extended":
        return f"lease of {data['delivery_id']} extended to {data['leased_until']} by {actor}"
    if kind == "delivery.lease_released":
        return f"lease of {data['delivery_id']} released at {data['leased_until']} by {actor}"
    if kind == "webhook.attempt_started":
        return f"webhook attempt {data['attempt_number']} started ({data['delivery_id']})"
    if kind == "webhook.attempt_recorded":
        status = data["response_status"]
        answer = f"HTTP {status}" if status is not None else (data["error"] or "no answer")
        took = f" after {latency_ms:.0f} ms" if latency_ms is not None else ""
        retry = f", next try {data['next_attempt_at']}" if data.get("next_attempt_at") else ""
        return f"webhook attempt {data['attempt_number']}: {data['result']}, {answer}{took}{retry}"
    if kind == "delivery.dead_lettered":
        return f"dead-lettered: {data['reason']} ({data['delivery_id']})"
    if kind == "dead_letter.redriven":
        return f"redriven by {actor}: a new webhook delivery {data['delivery_id']}"
    if kind == "dead_letter.released":
        return f"released to the inbox by {actor}"
    if kind == "ack.recorded":
        return f"ACK {data['status']} by {actor} ({data['delivery_id']})"
    if kind == "replay.attempt_started":
        where = "pushed again" if data["target"] == "webhook" else "made claimable again"
        return f"replayed ({data['replay_id']}): {where} as {data['delivery_id']}"
    if kind == "replay.attempt_recorded":
        status = data["response_status"]
        answer = f", HTTP {status}" if status is not None else ""
        error = f", {data['error']}" if data["error"] else ""
        return f"replay {data['replay_id']}: {data['result']}{answer}{error}"
    return f"{kind} by {actor}"


def history(records: list[dict[str, Any]]) -> list[str]:
    """The lines of a message's records, in order; a webhook attempt's line says how
    long the receiver took (from its start to its result)."""
    started: dict[tuple[str, int], datetime | None] = {}
    lines = []
    for record in records:
        data = record["data"]
        latency = None
        if record["type"] == "webhook.attempt_started":
            started[data["delivery_id"], data["attempt_number"]] = _when(record["at"])
        elif record["type"] == "webhook.attempt_recorded":
            began = started.get((data["delivery_id"], data["attempt_number"]))
            ended = _when(record["at"])
            if began is not None and ended is not None:
                latency = (ended - began).total_seconds() * 1000
        lines.append(describe(record, latency))
    return lines

"""What the CLI prints: lines for a person, or one JSON document per answer for a script.

Every command hands ``Output.report`` both forms of its answer; ``--json`` picks the
JSON, which is the carrier's answer under the API's own names (``docs/api.md``), made
public by ``as_json``: the fields that hold a secret (``SECRET_FIELDS``) are left out,
and deliveries lose their receiver URLs and any error that could quote a secret.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, TextIO

from atp.client import Answer

__all__ = [
    "SECRET_FIELDS",
    "CliError",
    "Output",
    "as_json",
    "fingerprint",
    "first_delivery",
    "first_text",
    "public_deliveries",
    "table",
    "when",
]

# Keys of the API's documents whose values are secrets (tokens, the webhook secret) or
# that the project keeps out of CLI output all the same (``whpk_`` public keys).
SECRET_FIELDS = frozenset({"token", "endpoint_secret", "public_key"})

# Delivery error strings that could quote a secret are shown as the contract's
# catch-all, as the reference CLI does.
_SECRETISH = re.compile(
    r"token|secret|signature|authorization|bearer|whsec_|raw body|request body", re.IGNORECASE
)

_TEXT_WIDTH = 120


class CliError(Exception):
    """A failure to report as ``error: <reason>`` with exit status 1."""


class Output:
    """Prints reports as text or as JSON, flushing each one (scripts read it live)."""

    def __init__(self, json_mode: bool = False, stream: TextIO | None = None) -> None:
        self.json_mode = json_mode
        self.stream = stream or sys.stdout

    @property
    def is_terminal(self) -> bool:
        return self.stream.isatty()

    def report(self, lines: Iterable[str], data: Mapping[str, Any]) -> None:
        """Print ``lines`` for a person, or ``data`` as one line of JSON with ``--json``."""
        if self.json_mode:
            self.stream.write(json.dumps(data, separators=(",", ":")) + "\n")
        else:
            self.stream.writelines(f"{line}\n" for line in lines)
        self.stream.flush()


def as_json(result: Answer | Mapping[str, Any]) -> dict[str, Any]:
    """The carrier's answer (a result's ``document``, or the document itself) made public.

    Secret fields are left out wherever they are, except inside a message's payload,
    which is the sender's and is shown as sent.
    """
    document = result.document if isinstance(result, Answer) else result
    public: dict[str, Any] = _public(document)
    return public


def _public(data: Any) -> Any:
    if isinstance(data, Mapping):
        if "deliveries" in data:
            data = {**data, "deliveries": public_deliveries(data["deliveries"])}
        return {
            key: value if key == "payload" else _public(value)
            for key, value in data.items()
            if key not in SECRET_FIELDS
        }
    if isinstance(data, list):
        return [_public(item) for item in data]
    return data


def fingerprint(secret: str) -> str:
    """A short, one-way name for a secret: tells two apart without showing either."""
    return "sha256:" + hashlib.sha256(secret.encode()).hexdigest()[:16]


def public_deliveries(deliveries: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Deliveries as the CLI shows them: no receiver URL, and no error that quotes a secret."""
    shown = []
    for delivery in deliveries:
        attempts = [
            {k: _safe_error(v) if k == "error" else v for k, v in a.items() if k != "request_url"}
            for a in delivery.get("attempts", ())
        ]
        shown.append(
            {
                **delivery,
                "last_error": _safe_error(delivery.get("last_error")),
                "attempts": attempts,
            }
        )
    return shown


def _safe_error(error: Any) -> Any:
    if isinstance(error, str) and _SECRETISH.search(error):
        return "internal_error"
    return error


def table(header: Sequence[str], rows: Iterable[Sequence[str]], aligned: bool) -> list[str]:
    """Rows under a header: columns padded for a terminal, tab-separated for a pipe."""
    rows = [list(header), *(list(row) for row in rows)]
    if not aligned:
        return ["\t".join(row) for row in rows]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    return [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]


def when(moment: datetime | str | None) -> str:
    """A time as the CLI prints it, ``-`` for none."""
    if moment is None:
        return "-"
    if isinstance(moment, str):
        return moment
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def first_delivery(status: Any) -> str | None:
    """The id of a message status's first delivery, if it has one."""
    return status.deliveries[0]["id"] if status is not None and status.deliveries else None


def first_text(payload: Any, width: int | None = _TEXT_WIDTH) -> str:
    """The first text part, whitespace squeezed (and cut to ``width``)."""
    parts = payload.get("parts", ()) if isinstance(payload, Mapping) else ()
    for part in parts:
        if isinstance(part, Mapping) and isinstance(part.get("text"), str):
            text = " ".join(part["text"].split())
            return text if width is None or len(text) <= width else text[: width - 1] + "~"
    return "non-text payload"

"""Where a check of the audit log failed: the first index that is wrong, and why."""

from __future__ import annotations

import attrs

__all__ = ["Failure"]


@attrs.frozen
class Failure:
    """Where the log stops being what the ledger and the checkpoints say."""

    index: int  # the first index that is wrong (a checkpoint: its tree size)
    reason: str

    def __str__(self) -> str:
        return f"index {self.index}: {self.reason}"

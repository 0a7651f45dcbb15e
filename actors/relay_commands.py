"""The commands of a relay's actor: attempt it when due, or just start running."""

from __future__ import annotations

from typing import final

import attrs

__all__ = ["RelayCommand", "RunRelay", "WakeRelay"]


@final
@attrs.frozen
class RunRelay:
    """Attempt the relay if an attempt is due (its deadline, or the sweep)."""

    relay_id: str


@final
@attrs.frozen
class WakeRelay:
    """Start the relay's actor, which then attempts it when due; answered at once, so
    that a send's answer does not wait for another gateway."""

    relay_id: str


RelayCommand = RunRelay | WakeRelay

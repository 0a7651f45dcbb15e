"""A histogram that costs a bisect and two additions to feed, read at scrape time.

prometheus-client's own ``Histogram.observe`` takes a lock on every call; the carrier
is one Trio thread, so plain integers do, and ``/metrics`` turns them into the
cumulative buckets of the exposition format when it is scraped.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence

import attrs

__all__ = ["Histogram", "HistogramSnapshot"]


@attrs.frozen
class HistogramSnapshot:
    """Cumulative counts per upper bound (the last is +Inf), and the sum of values."""

    buckets: tuple[tuple[float, int], ...]
    total: float

    @property
    def count(self) -> int:
        """How many values were observed."""
        return self.buckets[-1][1] if self.buckets else 0


class Histogram:
    """Counts of observed values per bucket, ``le`` upper bounds as Prometheus has them."""

    __slots__ = ("_bounds", "_counts", "total")

    def __init__(self, bounds: Sequence[float]) -> None:
        self._bounds = tuple(sorted(bounds))
        self._counts = [0] * (len(self._bounds) + 1)  # the last is +Inf
        self.total = 0.0

    def observe(self, value: float) -> None:
        """Count ``value`` in the first bucket whose bound is at least ``value``."""
        self._counts[bisect_left(self._bounds, value)] += 1
        self.total += value

    def snapshot(self) -> HistogramSnapshot:
        """The cumulative view, as a scrape reports it."""
        buckets = []
        running = 0
        for bound, count in zip((*self._bounds, float("inf")), self._counts, strict=True):
            running += count
            buckets.append((bound, running))
        return HistogramSnapshot(tuple(buckets), self.total)

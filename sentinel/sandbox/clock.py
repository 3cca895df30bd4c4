"""Cluster time: real seconds multiplied by the time scale, so a 90 s boot takes 1 s of a test at scale 90."""

from __future__ import annotations

import time
from collections.abc import Callable


class ClusterClock:
    def __init__(self, time_scale: float = 1.0, *, source: Callable[[], float] = time.monotonic) -> None:
        if time_scale <= 0:
            raise ValueError(f"time_scale must be positive, not {time_scale}")
        self.time_scale = time_scale
        self._source = source
        self._origin = source()

    def now(self) -> float:
        """Cluster seconds since the clock started."""
        return (self._source() - self._origin) * self.time_scale

    def real(self, cluster_seconds: float) -> float:
        """How many real seconds ``cluster_seconds`` take."""
        return cluster_seconds / self.time_scale

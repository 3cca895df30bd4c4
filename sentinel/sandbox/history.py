"""The sandbox's timeline of observable changes, for tests that check what happened and in which order."""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

KINDS = (
    "nodegroup.scaled",  # an EKS node group's scalingConfig changed (name = node group; old/new = sizes dicts)
    "node.created",  # a Node object appeared, NotReady (name = node; new = node group)
    "node.ready",  # ... turned Ready after the boot delay
    "node.draining",  # ... was cordoned because its node group shrank; its pods are being evicted
    "node.removed",  # ... was deleted after the drain delay
    "deployment.scaled",  # spec.replicas changed (name = ns/name; old/new = replicas)
    "deployment.ready",  # status.readyReplicas changed (name = ns/name; old/new)
    "autoscaler.scaled_up",  # the simulated Cluster Autoscaler raised a node group (name = node group; old/new)
    "object.created",
    "object.updated",
    "object.deleted",  # ray.io objects (name = kind/ns/name; new = generation)
)


@dataclass(frozen=True)
class HistoryEntry:
    at: float
    """Real time (``time.time()``) when the change was made."""
    kind: str
    name: str
    old: Any = None
    new: Any = None
    details: dict[str, Any] = field(default_factory=dict)


class History:
    def __init__(self, *, maxlen: int = 100_000) -> None:
        self._entries: deque[HistoryEntry] = deque(maxlen=maxlen)
        self._lock = threading.Lock()

    def record(self, kind: str, name: str, old: Any = None, new: Any = None, **details: Any) -> HistoryEntry:
        entry = HistoryEntry(time.time(), kind, name, old, new, details)
        with self._lock:
            self._entries.append(entry)
        return entry

    def entries(self, kind: str | None = None) -> list[HistoryEntry]:
        with self._lock:
            items = list(self._entries)
        return [e for e in items if kind is None or e.kind == kind]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

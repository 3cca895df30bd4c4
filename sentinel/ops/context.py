"""What a playbook is handed: config, state store, audit, the bus, and the event being handled."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import redis

from sentinel.config import Config
from sentinel.events.audit import Audit
from sentinel.events.bus import Bus
from sentinel.events.envelope import Event


@dataclass
class Context:
    cfg: Config
    redis: redis.Redis
    audit: Audit
    bus: Bus
    event: Event
    attempt: int = 1
    task: str = ""
    env: Mapping[str, str] = field(default_factory=dict)
    connect: Callable[[str], Any] | None = None
    """cluster name → the adapters for it (``sentinel.ops.adapters.connect``), injected by the worker."""
    later: Callable[[Event, float], None] | None = None
    """Run this event's task again after a delay (a deferred sleep looks again when its guard may have lifted)."""

    def note(self, kind: str, **fields: Any) -> None:
        """An audit record about this event (deferred, refused, step …)."""
        self.audit.record(kind, self.event, task=self.task, **fields)


Handler = Callable[[Context, Any], Mapping[str, Any] | None]

"""In-memory EKS managed node groups that obey the rules the real API enforces."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from sentinel.errors import PermanentError, SentinelError, TransientError
from sentinel.ops import ports


@dataclass
class FakeNodeGroups:
    """Implements :class:`sentinel.ops.ports.NodeGroups`.

    ``calls`` records every ``scale`` asked for, ``("scale", name, min, desired, max)``, no-ops included;
    ``updates`` only those that changed something (where the real adapter calls ``UpdateNodegroupConfig``).
    """

    groups: dict[str, ports.NodeGroupState] = field(default_factory=dict)
    calls: list[tuple[Any, ...]] = field(default_factory=list)
    updates: list[tuple[str, int, int, int]] = field(default_factory=list)
    tokens: dict[str, tuple[str, int, int, int]] = field(default_factory=dict)
    failures: dict[str, list[SentinelError]] = field(default_factory=dict)

    def add(self, name: str, *, min: int, desired: int, max: int, status: str = "ACTIVE") -> FakeNodeGroups:
        ports.check_sizes(name, min=min, desired=desired, max=max)
        self.groups[name] = ports.NodeGroupState(name=name, min=min, desired=desired, max=max, status=status)
        return self

    def fail(self, method: str, error: SentinelError) -> None:
        """The next call of ``method`` (``describe`` / ``scale``) raises ``error``."""
        self.failures.setdefault(method, []).append(error)

    def busy(self, name: str, busy: bool = True) -> None:
        """An update is in progress: ``scale`` raises TransientError (AWS: ResourceInUseException)."""
        self.groups[name] = replace(self._get(name), status="UPDATING" if busy else "ACTIVE")

    def _maybe_fail(self, method: str) -> None:
        queue = self.failures.get(method)
        if queue:
            raise queue.pop(0)

    def _get(self, name: str) -> ports.NodeGroupState:
        try:
            return self.groups[name]
        except KeyError:
            raise PermanentError(f"node group {name!r} not found") from None

    def describe(self, nodegroup: str) -> ports.NodeGroupState:
        self._maybe_fail("describe")
        return self._get(nodegroup)

    def scale(self, nodegroup: str, *, min: int, desired: int, max: int, token: str) -> bool:
        self.calls.append(("scale", nodegroup, min, desired, max))
        self._maybe_fail("scale")
        ports.check_sizes(nodegroup, min=min, desired=desired, max=max)
        current = self._get(nodegroup)
        if current.sizes == (min, desired, max):
            return False
        request = (nodegroup, min, desired, max)
        if token in self.tokens:
            if self.tokens[token] != request:
                raise PermanentError(f"node group {nodegroup}: token {token!r} was used for another request")
            return False  # AWS answers a replayed token with the first update
        if current.status == "UPDATING":
            raise TransientError(f"node group {nodegroup}: ResourceInUseException: an update is in progress")
        self.tokens[token] = request
        self.updates.append(request)
        self.groups[nodegroup] = replace(current, min=min, desired=desired, max=max)
        return True

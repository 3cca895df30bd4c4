"""An in-memory Kubernetes API with a deterministic clock: nothing happens until :meth:`FakeKube.tick`.

Linked to a :class:`~tests.fakes.nodegroups.FakeNodeGroups`, each tick plays the EKS/kubelet part: a node
group whose desired size is above its node count gets a new NotReady node, which turns Ready after
``boot_ticks``; one above desired loses a node after ``drain_ticks``. Deployments' ready replicas follow
spec only as far as Ready nodes (``pods_per_node`` each) allow. The ``wait_*`` methods tick the clock
themselves, one tick per ``tick_seconds`` of their timeout, and never sleep.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sentinel.errors import PermanentError, SentinelError
from sentinel.ops import ports
from sentinel.sandbox import patches
from tests.fakes.nodegroups import FakeNodeGroups

KINDS = {"raycluster": "RayCluster", "rayservice": "RayService", "rayjob": "RayJob"}


merge_patch = patches.merge  # RFC 7386 JSON merge patch, the same one the sandbox API applies


def _kind(kind: str) -> str:
    try:
        return KINDS[kind.lower().removesuffix("s")]
    except KeyError:
        raise PermanentError(f"unknown custom object kind {kind!r}") from None


@dataclass
class _Node:
    name: str
    nodegroup: str | None
    ready: bool
    age: int = 0
    draining: int | None = None


@dataclass
class FakeKube:
    """Implements :class:`sentinel.ops.ports.Kube`.

    ``calls`` records what changes the cluster or waits on it, in order: ``("scale_deployment", ref, n)``,
    ``("patch_custom_object", kind, ns, name, patch)``, ``("wait_nodes", ng, ready)``,
    ``("wait_no_nodes", (ng, …))``, ``("wait_deployment_ready", ref, n)``.
    """

    nodegroups: FakeNodeGroups | None = None
    boot_ticks: int = 2
    drain_ticks: int = 1
    pods_per_node: int = 110
    tick_seconds: float = 1.0
    deployments: dict[str, list[int]] = field(default_factory=dict)  # ref → [replicas, ready]
    node_table: dict[str, _Node] = field(default_factory=dict)
    objects: dict[tuple[str, str, str], dict[str, Any]] = field(default_factory=dict)
    calls: list[tuple[Any, ...]] = field(default_factory=list)
    failures: dict[str, list[SentinelError]] = field(default_factory=dict)
    clock: float = 0.0
    _serial: int = 0

    # arranging ----------------------------------------------------------------------------------------------
    def add_deployment(self, ref: str, replicas: int, *, ready: int | None = None) -> None:
        ports.split_ref(ref)
        self.deployments[ref] = [replicas, replicas if ready is None else ready]

    def add_node(self, nodegroup: str | None, *, ready: bool = True, name: str | None = None) -> str:
        self._serial += 1
        name = name or f"ip-10-0-{self._serial // 250}-{self._serial % 250}.{nodegroup or 'node'}"
        self.node_table[name] = _Node(name=name, nodegroup=nodegroup, ready=ready, age=self.boot_ticks if ready else 0)
        return name

    def boot(self) -> None:
        """Start with every linked node group's desired nodes already Ready (a cluster that is awake)."""
        if self.nodegroups:
            for ng in self.nodegroups.groups.values():
                while sum(1 for n in self.node_table.values() if n.nodegroup == ng.name) < ng.desired:
                    self.add_node(ng.name)
        self._settle_deployments()

    def put_custom_object(self, kind: str, namespace: str, name: str, body: dict[str, Any]) -> None:
        k = _kind(kind)
        obj = copy.deepcopy(body)
        obj.setdefault("apiVersion", "ray.io/v1")
        obj.setdefault("kind", k)
        obj.setdefault("metadata", {}).update({"name": name, "namespace": namespace})
        self.objects[(k, namespace, name)] = obj

    def fail(self, method: str, error: SentinelError) -> None:
        self.failures.setdefault(method, []).append(error)

    def _maybe_fail(self, method: str) -> None:
        queue = self.failures.get(method)
        if queue:
            raise queue.pop(0)

    # the simulated controllers ------------------------------------------------------------------------------
    def tick(self, n: int = 1) -> None:
        for _ in range(n):
            self.clock += self.tick_seconds
            for node in list(self.node_table.values()):
                node.age += 1
                if not node.ready and node.draining is None and node.age >= self.boot_ticks:
                    node.ready = True
                if node.draining is not None:
                    node.draining -= 1
                    if node.draining <= 0:
                        del self.node_table[node.name]
            if self.nodegroups:
                for ng in self.nodegroups.groups.values():
                    mine = [n for n in self.node_table.values() if n.nodegroup == ng.name and n.draining is None]
                    if len(mine) < ng.desired:
                        self.add_node(ng.name, ready=False)
                    elif len(mine) > ng.desired:
                        victim = sorted(mine, key=lambda n: (n.ready, n.name))[0]
                        victim.draining, victim.ready = self.drain_ticks, False
            self._settle_deployments()

    def _settle_deployments(self) -> None:
        capacity = self.pods_per_node * sum(1 for n in self.node_table.values() if n.ready)
        for spec in self.deployments.values():
            spec[1] = min(spec[0], capacity)
            capacity -= spec[1]

    def _wait(self, timeout: float, done: Callable[[], bool]) -> bool:
        for _ in range(max(0, math.floor(timeout / self.tick_seconds))):
            if done():
                return True
            self.tick()
        return done()

    # the port -----------------------------------------------------------------------------------------------
    def _deployment(self, ref: str) -> list[int]:
        ports.split_ref(ref)
        try:
            return self.deployments[ref]
        except KeyError:
            raise PermanentError(f"deployment {ref} not found") from None

    def deployment(self, ref: str) -> ports.DeploymentState:
        self._maybe_fail("deployment")
        replicas, ready = self._deployment(ref)
        return ports.DeploymentState(ref=ref, replicas=replicas, ready=ready)

    def scale_deployment(self, ref: str, replicas: int) -> None:
        self.calls.append(("scale_deployment", ref, replicas))
        self._maybe_fail("scale_deployment")
        spec = self._deployment(ref)
        if replicas < 0:
            raise PermanentError(f"scale {ref}: replicas ({replicas}) is negative")
        spec[0] = replicas
        spec[1] = min(spec[1], replicas)

    def nodes(self, nodegroup: str | None = None) -> list[ports.NodeInfo]:
        self._maybe_fail("nodes")
        return sorted(
            (
                ports.NodeInfo(name=n.name, nodegroup=n.nodegroup, ready=n.ready)
                for n in self.node_table.values()
                if nodegroup is None or n.nodegroup == nodegroup
            ),
            key=lambda n: n.name,
        )

    def wait_nodes(self, nodegroup: str, *, ready: int, timeout: float) -> bool:
        self.calls.append(("wait_nodes", nodegroup, ready))
        self._maybe_fail("wait_nodes")
        return self._wait(timeout, lambda: sum(1 for n in self.nodes(nodegroup) if n.ready) >= ready)

    def wait_no_nodes(self, nodegroups: Sequence[str], *, timeout: float) -> bool:
        groups = tuple(nodegroups)
        self.calls.append(("wait_no_nodes", groups))
        self._maybe_fail("wait_no_nodes")
        return self._wait(timeout, lambda: not any(n.nodegroup in groups for n in self.node_table.values()))

    def wait_deployment_ready(self, ref: str, replicas: int, *, timeout: float) -> bool:
        self.calls.append(("wait_deployment_ready", ref, replicas))
        self._maybe_fail("wait_deployment_ready")
        spec = self._deployment(ref)
        return self._wait(timeout, lambda: spec[1] >= replicas if replicas > 0 else spec[1] == 0)

    def custom_object(self, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        self._maybe_fail("custom_object")
        obj = self.objects.get((_kind(kind), namespace, name))
        return copy.deepcopy(obj) if obj is not None else None

    def list_custom_objects(self, kind: str, namespace: str) -> list[dict[str, Any]]:
        self._maybe_fail("list_custom_objects")
        k = _kind(kind)
        return [copy.deepcopy(o) for (kk, ns, _), o in sorted(self.objects.items()) if kk == k and ns == namespace]

    def patch_custom_object(self, kind: str, namespace: str, name: str, patch: dict[str, Any]) -> dict[str, Any]:
        self.calls.append(("patch_custom_object", kind, namespace, name, copy.deepcopy(patch)))
        self._maybe_fail("patch_custom_object")
        key = (_kind(kind), namespace, name)
        if key not in self.objects:
            raise PermanentError(f"patch {kind} {namespace}/{name}: not found")
        self.objects[key] = merge_patch(self.objects[key], patch)
        return copy.deepcopy(self.objects[key])

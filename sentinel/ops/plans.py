"""Pure planning for sleep and wake: observed sizes + snapshot + config → the ordered list of actions.

Nothing here talks to a cloud. ``plan_sleep`` / ``plan_wake`` return frozen actions; the playbook carries them
out one by one, re-checking the cluster before each (so a plan made before a crash is never replayed blindly),
and ``sentinel plan`` prints them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sentinel.config import Cluster

Sizes = tuple[int, int, int]
"""A node group's (min, desired, max)."""


@dataclass(frozen=True)
class Observed:
    """What the cluster looks like now."""

    nodegroups: Mapping[str, Sizes]
    deployments: Mapping[str, int]
    """``ns/name`` → wanted replicas (``spec.replicas``)."""


@dataclass(frozen=True)
class Snapshot:
    """The awake sizes to come back to, taken when a sleep starts. Versioned; never all zeros by accident."""

    nodegroups: Mapping[str, Sizes]
    deployments: Mapping[str, int]
    taken_at: dt.datetime
    version: int = 1
    event_id: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "nodegroups": {k: {"min": v[0], "desired": v[1], "max": v[2]} for k, v in self.nodegroups.items()},
            "deployments": dict(self.deployments),
            "taken_at": self.taken_at.isoformat(),
            "version": self.version,
            "event_id": self.event_id,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Snapshot:
        return cls(
            nodegroups={k: (int(v["min"]), int(v["desired"]), int(v["max"])) for k, v in d["nodegroups"].items()},
            deployments={k: int(v) for k, v in d["deployments"].items()},
            taken_at=dt.datetime.fromisoformat(d["taken_at"]),
            version=int(d.get("version", 1)),
            event_id=d.get("event_id"),
        )


@dataclass(frozen=True)
class ScaleDeployment:
    ref: str
    current: int
    target: int

    def describe(self) -> str:
        ns, name = self.ref.split("/", 1)
        return f"kubectl scale deployment {name} -n {ns} --replicas={self.target}   # {self.current} → {self.target}"


@dataclass(frozen=True)
class WaitDeployment:
    ref: str
    replicas: int

    def describe(self) -> str:
        what = "no replica is ready" if self.replicas == 0 else f"{self.replicas} replica(s) are ready"
        return f"wait until {self.ref}: {what}"


@dataclass(frozen=True)
class ScaleNodeGroup:
    nodegroup: str
    current: Sizes
    target: Sizes

    def describe(self) -> str:
        c, t = self.current, self.target
        return (
            f"eks update-nodegroup-config {self.nodegroup} scalingConfig min/desired/max "
            f"{c[0]}/{c[1]}/{c[2]} → {t[0]}/{t[1]}/{t[2]}"
        )


@dataclass(frozen=True)
class WaitNodesReady:
    nodegroup: str
    count: int

    def describe(self) -> str:
        return f"wait until {self.count} node(s) of {self.nodegroup} are Ready"


@dataclass(frozen=True)
class WaitNodesGone:
    nodegroups: tuple[str, ...]

    def describe(self) -> str:
        return f"wait until no node of {', '.join(self.nodegroups)} is left"


Action = ScaleDeployment | WaitDeployment | ScaleNodeGroup | WaitNodesReady | WaitNodesGone


@dataclass(frozen=True)
class Plan:
    action: str
    steps: tuple[Action, ...] = field(default_factory=tuple)
    snapshot: Snapshot | None = None

    def describe(self) -> list[str]:
        return [f"{i}. {s.describe()}" for i, s in enumerate(self.steps, 1)]


def _zero(sizes: Sizes) -> bool:
    return sizes[0] == 0 and sizes[1] == 0


def take_snapshot(
    observed: Observed, cluster: Cluster, *, previous: Snapshot | None, now: dt.datetime, event_id: str | None = None
) -> Snapshot:
    """The sizes as they *are* now — a group scaled to 3 by hand comes back at 3.

    Sizes of zero never overwrite a known awake size: a group or deployment already at zero (a sleep that was
    interrupted, someone's hand) keeps the previous snapshot's value, else the configured awake size.
    """
    ngs: dict[str, Sizes] = {}
    for name, ng in cluster.nodegroups.items():
        cur = observed.nodegroups.get(name)
        if cur is not None and not _zero(cur):
            ngs[name] = cur
        elif previous is not None and name in previous.nodegroups:
            ngs[name] = previous.nodegroups[name]
        else:
            a = ng.awake
            ngs[name] = (a.min, a.desired, max(a.max, cur[2] if cur else a.max))
    deps: dict[str, int] = {}
    for ref in cluster.system_deployments:
        cur_r = observed.deployments.get(ref, 0)
        if cur_r > 0:
            deps[ref] = cur_r
        elif previous is not None and previous.deployments.get(ref):
            deps[ref] = previous.deployments[ref]
        else:
            deps[ref] = cluster.default_replicas(ref)
    version = (previous.version + 1) if previous else 1
    return Snapshot(nodegroups=ngs, deployments=deps, taken_at=now, version=version, event_id=event_id)


def default_snapshot(cluster: Cluster, *, now: dt.datetime) -> Snapshot:
    """The configured awake sizes, for a wake with no snapshot."""
    return Snapshot(
        nodegroups={n: (g.awake.min, g.awake.desired, g.awake.max) for n, g in cluster.nodegroups.items()},
        deployments={ref: cluster.default_replicas(ref) for ref in cluster.system_deployments},
        taken_at=now,
        version=0,
    )


def plan_sleep(observed: Observed, cluster: Cluster, *, snapshot: Snapshot) -> Plan:
    """Autoscaler, metrics-server, CoreDNS to zero (in config order, each verified), then node groups to 0/0/max."""
    steps: list[Action] = []
    for ref in cluster.system_deployments:
        cur = observed.deployments.get(ref, 0)
        if cur != 0:
            steps.append(ScaleDeployment(ref, cur, 0))
        steps.append(WaitDeployment(ref, 0))
    for name in cluster.nodegroups:
        cur_ng = observed.nodegroups.get(name)
        if cur_ng is None:
            continue
        target = (0, 0, cur_ng[2])
        if cur_ng != target:
            steps.append(ScaleNodeGroup(name, cur_ng, target))
    steps.append(WaitNodesGone(tuple(cluster.nodegroups)))
    return Plan("sleep", tuple(steps), snapshot)


def plan_wake(observed: Observed, cluster: Cluster, *, snapshot: Snapshot) -> Plan:
    """Node groups to the snapshot, wait for Ready nodes, then CoreDNS, metrics-server, the autoscaler last."""
    steps: list[Action] = []
    for name in cluster.nodegroups:
        cur = observed.nodegroups.get(name)
        target = snapshot.nodegroups.get(name)
        if cur is None or target is None:
            continue
        if cur != target:
            steps.append(ScaleNodeGroup(name, cur, target))
    for name in cluster.nodegroups:
        target = snapshot.nodegroups.get(name)
        if target and target[1] > 0:
            steps.append(WaitNodesReady(name, target[1]))
    for ref in reversed(cluster.system_deployments):
        want = snapshot.deployments.get(ref, cluster.default_replicas(ref))
        cur_r = observed.deployments.get(ref, 0)
        if cur_r != want:
            steps.append(ScaleDeployment(ref, cur_r, want))
        if want > 0:
            steps.append(WaitDeployment(ref, want))
    return Plan("wake", tuple(steps), snapshot)

"""Node lifecycle, as EKS managed node groups behave: nodes follow each group's desired size.

A missing node appears NotReady and turns Ready after the boot delay; a surplus node is cordoned, its pods are
evicted (they stay Terminating until it goes), and it is deleted after the drain delay. Times are cluster seconds.
"""

from __future__ import annotations

import itertools
import uuid
from typing import Any

from sentinel.config import Cluster, NodeGroup
from sentinel.sandbox import kinds
from sentinel.sandbox.history import History
from sentinel.sandbox.store import Obj, Store

NODEGROUP_LABEL = "eks.amazonaws.com/nodegroup"
UNSCHEDULABLE = {"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}
NOT_READY = {"key": "node.kubernetes.io/not-ready", "effect": "NoSchedule"}
KUBELET = "v1.32.0-eks-sandbox"
_CAPACITY = {
    "m5.large": ("2", "8Gi"),
    "m5.xlarge": ("4", "16Gi"),
    "m5.2xlarge": ("8", "32Gi"),
    "m5.4xlarge": ("16", "64Gi"),
}


def _uuid(name: str, salt: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_DNS, f"{salt}.{name}"))


def labels(name: str, ng: str, group: NodeGroup, region: str) -> dict[str, str]:
    return {
        NODEGROUP_LABEL: ng,
        "eks.amazonaws.com/capacityType": "SPOT" if group.spot else "ON_DEMAND",
        "node.kubernetes.io/instance-type": group.instance_type,
        "kubernetes.io/arch": "amd64",
        "kubernetes.io/os": "linux",
        "kubernetes.io/hostname": name,
        "topology.kubernetes.io/region": region,
        "topology.kubernetes.io/zone": f"{region}a",
    }


def ready_condition(ready: bool, at: str) -> dict[str, Any]:
    return {
        "type": "Ready",
        "status": "True" if ready else "False",
        "lastHeartbeatTime": at,
        "lastTransitionTime": at,
        "reason": "KubeletReady" if ready else "KubeletNotReady",
        "message": "kubelet is posting ready status" if ready else "container runtime network not ready",
    }


def is_ready(node: Obj) -> bool:
    conds = (node.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conds)


def schedulable(node: Obj) -> bool:
    return (
        is_ready(node)
        and not (node.get("spec") or {}).get("unschedulable")
        and not node["metadata"].get("deletionTimestamp")
    )


def node_object(name: str, ng: str, group: NodeGroup, region: str, *, ready: bool, at: str, instance: str) -> Obj:
    cpu, memory = _CAPACITY.get(group.instance_type, ("4", "16Gi"))
    return {
        "metadata": {
            "name": name,
            "labels": labels(name, ng, group, region),
            "annotations": {"alpha.kubernetes.io/provided-node-ip": "10.0.0.1"},
        },
        "spec": {"providerID": f"aws:///{region}a/{instance}", **({} if ready else {"taints": [NOT_READY]})},
        "status": {
            "conditions": [ready_condition(ready, at)],
            "capacity": {"cpu": cpu, "memory": memory, "pods": "58"},
            "allocatable": {"cpu": cpu, "memory": memory, "pods": "58"},
            "nodeInfo": {
                "kubeletVersion": KUBELET,
                "kubeProxyVersion": KUBELET,
                "containerRuntimeVersion": "containerd://1.7.25",
                "operatingSystem": "linux",
                "architecture": "amd64",
                "osImage": "Amazon Linux 2023",
                "kernelVersion": "6.1.119-129.201.amzn2023.x86_64",
                "bootID": _uuid(name, "boot"),
                "machineID": _uuid(name, "machine").replace("-", ""),
                "systemUUID": _uuid(name, "system"),
            },
        },
    }


class NodeLifecycle:
    def __init__(self, store: Store, history: History, cluster: Cluster, *, boot_delay: float, drain_delay: float):
        self.store = store
        self.history = history
        self.cluster = cluster
        self.boot_delay = boot_delay
        self.drain_delay = drain_delay
        self._booting: dict[str, float] = {}
        self._draining: dict[str, float] = {}
        self._serial = itertools.count(1)

    def _new_name(self) -> tuple[str, str]:
        n = next(self._serial)
        return f"ip-10-0-{n // 250}-{10 + n % 250}.{self.cluster.region}.compute.internal", f"i-0{n:016x}"

    def seed(self, sizes: dict[str, dict[str, int]], *, at: str) -> None:
        """Ready nodes for each group's desired size, at once (the awake cluster)."""
        for ng, group in self.cluster.nodegroups.items():
            for _ in range(sizes.get(ng, {}).get("desiredSize", group.awake.desired)):
                name, instance = self._new_name()
                obj = node_object(name, ng, group, self.cluster.region, ready=True, at=at, instance=instance)
                self.store.create(kinds.NODE, obj, internal=True)

    def step(self, now: float, sizes: dict[str, dict[str, int]], *, at: str) -> None:
        nodes, _ = self.store.list(kinds.NODE)
        names = {n["metadata"]["name"] for n in nodes}
        for gone in [n for n in (*self._booting, *self._draining) if n not in names]:
            self._booting.pop(gone, None)
            self._draining.pop(gone, None)
        for ng, group in self.cluster.nodegroups.items():
            if ng not in sizes:
                continue
            mine = [n for n in nodes if n["metadata"].get("labels", {}).get(NODEGROUP_LABEL) == ng]
            active = [n for n in mine if n["metadata"]["name"] not in self._draining]
            desired = sizes[ng].get("desiredSize", 0)
            for _ in range(desired - len(active)):
                name, instance = self._new_name()
                obj = node_object(name, ng, group, self.cluster.region, ready=False, at=at, instance=instance)
                self.store.create(kinds.NODE, obj, internal=True)
                self._booting[name] = now
                self.history.record("node.created", name, new=ng)
            if len(active) > desired:  # booting ones go first, then the newest
                order = sorted(
                    active,
                    key=lambda n: (is_ready(n), n["metadata"]["creationTimestamp"], n["metadata"]["name"]),
                    reverse=False,
                )
                victims = [n for n in order if not is_ready(n)] + [n for n in reversed(order) if is_ready(n)]
                for node in victims[: len(active) - desired]:
                    self._drain(node, now)
        for name, started in list(self._booting.items()):
            if now - started >= self.boot_delay:
                del self._booting[name]
                self.store.update(kinds.NODE, None, name, lambda n: _mark_ready(n, at), subresource="*")
                self.history.record("node.ready", name)
        for name, started in list(self._draining.items()):
            if now - started >= self.drain_delay:
                del self._draining[name]
                self._remove(name)

    def next_due(self, now: float) -> float | None:
        """Cluster seconds until the next node finishes booting or draining (None: nothing pending)."""
        due = [started + self.boot_delay for started in self._booting.values()]
        due += [started + self.drain_delay for started in self._draining.values()]
        return max(0.0, min(due) - now) if due else None

    def _drain(self, node: Obj, now: float) -> None:
        name = node["metadata"]["name"]
        self._booting.pop(name, None)
        self._draining[name] = now

        def cordon(n: Obj) -> Obj:
            spec = n.setdefault("spec", {})
            spec["unschedulable"] = True
            spec["taints"] = [*(t for t in spec.get("taints", []) if t["key"] != UNSCHEDULABLE["key"]), UNSCHEDULABLE]
            return n

        self.store.update(kinds.NODE, None, name, cordon)
        pods, _ = self.store.list(kinds.POD, fields=lambda p: (p.get("spec") or {}).get("nodeName") == name)
        for pod in pods:
            self.store.mark_terminating(kinds.POD, pod["metadata"]["namespace"], pod["metadata"]["name"])
        self.history.record("node.draining", name, new=node["metadata"]["labels"].get(NODEGROUP_LABEL))

    def _remove(self, name: str) -> None:
        pods, _ = self.store.list(kinds.POD, fields=lambda p: (p.get("spec") or {}).get("nodeName") == name)
        for pod in pods:
            if self.store.find(kinds.POD, pod["metadata"]["namespace"], pod["metadata"]["name"]):
                self.store.delete(kinds.POD, pod["metadata"]["namespace"], pod["metadata"]["name"])
        if self.store.find(kinds.NODE, None, name):
            node = self.store.delete(kinds.NODE, None, name)
            self.history.record("node.removed", name, old=node["metadata"]["labels"].get(NODEGROUP_LABEL))


def _mark_ready(node: Obj, at: str) -> Obj:
    node["status"]["conditions"] = [c for c in node["status"].get("conditions", []) if c["type"] != "Ready"]
    node["status"]["conditions"].append(ready_condition(True, at))
    spec = node.setdefault("spec", {})
    spec["taints"] = [t for t in spec.get("taints", []) if t["key"] != NOT_READY["key"]]
    if not spec["taints"]:
        del spec["taints"]
    return node

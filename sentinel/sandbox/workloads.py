"""Workload controllers: Deployments and RayClusters make Pods; a scheduler binds Pods to Ready nodes.

Pods are Running only on a Ready, schedulable node that matches their ``nodeSelector``; with none they stay
Pending (``PodScheduled=False``, reason ``Unschedulable``), and ``readyReplicas`` counts only Running pods.
"""

from __future__ import annotations

import functools
import hashlib
import secrets
from dataclasses import dataclass
from typing import Any

from sentinel.sandbox import kinds
from sentinel.sandbox.history import History
from sentinel.sandbox.kinds import Kind
from sentinel.sandbox.nodes import schedulable
from sentinel.sandbox.store import Obj, Store


@dataclass(frozen=True)
class PodGroup:
    """Pods one owner wants: ``replicas`` copies of ``template``, told apart from the owner's others by ``labels``."""

    owner_kind: Kind
    owner: Obj
    labels: dict[str, str]
    replicas: int
    template: dict[str, Any]
    prefix: str


def _uid(obj: Obj) -> str:
    return str(obj["metadata"]["uid"])


def _owner_uid(pod: Obj) -> str | None:
    refs = pod["metadata"].get("ownerReferences") or []
    return next((r.get("uid") for r in refs if r.get("controller")), None)


def _terminating(pod: Obj) -> bool:
    return bool(pod["metadata"].get("deletionTimestamp"))


def running(pod: Obj) -> bool:
    return (pod.get("status") or {}).get("phase") == "Running"


def pending(pod: Obj) -> bool:
    return (
        not _terminating(pod)
        and (pod.get("status") or {}).get("phase", "Pending") == "Pending"
        and not (pod.get("spec") or {}).get("nodeName")
    )


def fits(pod: Obj, node_labels: dict[str, str]) -> bool:
    selector = (pod.get("spec") or {}).get("nodeSelector") or {}
    return all(node_labels.get(k) == v for k, v in selector.items())


def deployment_groups(d: Obj) -> list[PodGroup]:
    spec = d.get("spec") or {}
    template = spec.get("template") or {}
    h = hashlib.sha1(repr(template).encode()).hexdigest()[:10]
    labels = {**((template.get("metadata") or {}).get("labels") or {}), "pod-template-hash": h}
    return [
        PodGroup(kinds.DEPLOYMENT, d, labels, int(spec.get("replicas", 1)), template, f"{d['metadata']['name']}-{h}")
    ]


def raycluster_groups(rc: Obj) -> list[PodGroup]:
    spec, name = rc.get("spec") or {}, rc["metadata"]["name"]
    suspended = bool(spec.get("suspend"))
    head = {"ray.io/cluster": name, "ray.io/node-type": "head", "ray.io/group": "headgroup"}
    out = [
        PodGroup(
            kinds.RAYCLUSTER,
            rc,
            head,
            0 if suspended else 1,
            (spec.get("headGroupSpec") or {}).get("template") or {},
            f"{name}-head",
        )
    ]
    for g in spec.get("workerGroupSpecs") or []:
        lo, hi = int(g.get("minReplicas", 0)), int(g.get("maxReplicas", 2**31))
        replicas = 0 if suspended or g.get("suspend") else max(lo, min(hi, int(g.get("replicas", lo))))
        labels = {
            "ray.io/cluster": name,
            "ray.io/node-type": "worker",
            "ray.io/group": str(g.get("groupName", "workers")),
        }
        out.append(
            PodGroup(
                kinds.RAYCLUSTER,
                rc,
                labels,
                replicas,
                g.get("template") or {},
                f"{name}-{labels['ray.io/group']}-worker",
            )
        )
    return out


def _pod_for(group: PodGroup) -> Obj:
    meta = group.owner["metadata"]
    tmeta = group.template.get("metadata") or {}
    spec = {**(group.template.get("spec") or {}), "schedulerName": "default-scheduler"}
    spec.pop("nodeName", None)
    return {
        "metadata": {
            "name": f"{group.prefix}-{secrets.token_hex(3)[:5]}",
            "namespace": meta["namespace"],
            "labels": {**(tmeta.get("labels") or {}), **group.labels},
            "annotations": dict(tmeta.get("annotations") or {}),
            "ownerReferences": [
                {
                    "apiVersion": group.owner_kind.api_version,
                    "kind": group.owner_kind.kind,
                    "name": meta["name"],
                    "uid": meta["uid"],
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ],
        },
        "spec": spec,
    }


def _in_group(pod: Obj, group: PodGroup) -> bool:
    labels = pod["metadata"].get("labels") or {}
    return _owner_uid(pod) == _uid(group.owner) and all(labels.get(k) == v for k, v in group.labels.items())


class Workloads:
    def __init__(self, store: Store, history: History) -> None:
        self.store = store
        self.history = history
        self._ip = 0

    def step(self, *, at: str) -> None:
        deployments, _ = self.store.list(kinds.DEPLOYMENT)
        rayclusters, _ = self.store.list(kinds.RAYCLUSTER)
        nodes, _ = self.store.list(kinds.NODE)
        node_names = {n["metadata"]["name"] for n in nodes}
        owners = {_uid(o) for o in (*deployments, *rayclusters)}
        pods, _ = self.store.list(kinds.POD)
        for pod in pods:  # garbage collection: pods of a deleted node or a deleted owner
            node, owner = (pod.get("spec") or {}).get("nodeName"), _owner_uid(pod)
            if (node and node not in node_names) or (owner and owner not in owners):
                self._delete(pod)
        groups = [g for d in deployments for g in deployment_groups(d)]
        groups += [g for rc in rayclusters for g in raycluster_groups(rc)]
        pods, _ = self.store.list(kinds.POD)
        for pod in pods:  # a changed template: pods of the old one go (a rollout, without its pacing)
            if _owner_uid(pod) and not any(_in_group(pod, g) for g in groups):
                self._delete(pod)
        for group in groups:
            live = [p for p in pods if _in_group(p, group) and not _terminating(p)]
            for _ in range(group.replicas - len(live)):
                self.store.create(kinds.POD, _pod_for(group), internal=True)
            if len(live) > group.replicas:
                surplus = sorted(live, key=lambda p: (running(p), p["metadata"]["creationTimestamp"]))
                for pod in surplus[: len(live) - group.replicas]:
                    self._delete(pod)
        self._schedule([n for n in nodes if schedulable(n)], len(nodes), at=at)
        pods, _ = self.store.list(kinds.POD)
        for d in deployments:
            self._deployment_status(d, [p for p in pods if _owner_uid(p) == _uid(d)])
        for rc in rayclusters:
            self._raycluster_status(rc, [p for p in pods if _owner_uid(p) == _uid(rc)])

    def _delete(self, pod: Obj) -> None:
        if self.store.find(kinds.POD, pod["metadata"]["namespace"], pod["metadata"]["name"]):
            self.store.delete(kinds.POD, pod["metadata"]["namespace"], pod["metadata"]["name"])

    def _schedule(self, nodes: list[Obj], total: int, *, at: str) -> None:
        pods, _ = self.store.list(kinds.POD)
        load = {n["metadata"]["name"]: 0 for n in nodes}
        for p in pods:
            node = (p.get("spec") or {}).get("nodeName")
            if node in load:
                load[node] += 1
        for pod in (p for p in pods if pending(p)):
            fit = [n for n in nodes if fits(pod, n["metadata"].get("labels") or {})]
            ns, name = pod["metadata"]["namespace"], pod["metadata"]["name"]
            if not fit:
                message = f"0/{total} nodes are available: {total} node(s) didn't match or were not ready/schedulable."
                self.store.update(
                    kinds.POD, ns, name, functools.partial(_unschedulable, message=message, at=at), subresource="status"
                )
                continue
            node = min(fit, key=lambda n: (load[n["metadata"]["name"]], n["metadata"]["name"]))
            load[node["metadata"]["name"]] += 1
            self._ip += 1
            ip = f"10.0.{100 + self._ip // 250}.{self._ip % 250 + 1}"
            self.store.update(
                kinds.POD,
                ns,
                name,
                functools.partial(_bind, node=node["metadata"]["name"], ip=ip, at=at),
                subresource="*",
            )

    def _deployment_status(self, d: Obj, pods: list[Obj]) -> None:
        live = [p for p in pods if not _terminating(p)]
        ready = sum(1 for p in live if running(p))
        want = int((d.get("spec") or {}).get("replicas", 1))
        available = "True" if ready >= want else "False"
        status: dict[str, Any] = {
            "observedGeneration": d["metadata"].get("generation", 1),
            "replicas": len(live),
            "updatedReplicas": len(live),
            "readyReplicas": ready,
            "availableReplicas": ready,
            "conditions": [
                {
                    "type": "Available",
                    "status": available,
                    "reason": "MinimumReplicasAvailable" if available == "True" else "MinimumReplicasUnavailable",
                    "message": "Deployment has minimum availability."
                    if available == "True"
                    else "Deployment does not have minimum availability.",
                }
            ],
        }
        if len(live) - ready > 0:
            status["unavailableReplicas"] = len(live) - ready
        status = {k: v for k, v in status.items() if v != 0 or k == "observedGeneration"}
        if d.get("status") != status:
            self.store.update(
                kinds.DEPLOYMENT,
                d["metadata"]["namespace"],
                d["metadata"]["name"],
                lambda cur: {**cur, "status": status},
                subresource="status",
            )

    def _raycluster_status(self, rc: Obj, pods: list[Obj]) -> None:
        live = [p for p in pods if not _terminating(p)]
        workers = [p for p in live if p["metadata"]["labels"].get("ray.io/node-type") == "worker"]
        head = next((p for p in live if p["metadata"]["labels"].get("ray.io/node-type") == "head"), None)
        groups = raycluster_groups(rc)
        desired = sum(g.replicas for g in groups[1:])
        ready_workers = sum(1 for p in workers if running(p))
        suspended = bool((rc.get("spec") or {}).get("suspend"))
        up = head is not None and running(head) and ready_workers >= desired
        status: dict[str, Any] = {
            "state": "suspended" if suspended else ("ready" if up else "pending"),
            "desiredWorkerReplicas": desired,
            "availableWorkerReplicas": ready_workers,
            "readyWorkerReplicas": ready_workers,
            "observedGeneration": rc["metadata"].get("generation", 1),
            "head": {"podIP": ((head or {}).get("status") or {}).get("podIP", "")},
            "endpoints": {"client": "10001", "dashboard": "8265", "gcs-server": "6379", "metrics": "8080"},
        }
        if rc.get("status") != status:
            self.store.update(
                kinds.RAYCLUSTER,
                rc["metadata"]["namespace"],
                rc["metadata"]["name"],
                lambda cur: {**cur, "status": status},
                subresource="status",
            )


def _unschedulable(pod: Obj, message: str, at: str) -> Obj:
    cond = {"type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": message}
    st = pod.setdefault("status", {})
    old = next((c for c in st.get("conditions", []) if c.get("type") == "PodScheduled"), None)
    if old and old.get("reason") == "Unschedulable" and old.get("message") == message:
        return pod
    st.update({"phase": "Pending", "conditions": [{**cond, "lastTransitionTime": at}]})
    return pod


def _bind(pod: Obj, node: str, ip: str, at: str) -> Obj:
    pod["spec"]["nodeName"] = node
    containers = (pod.get("spec") or {}).get("containers") or []
    pod["status"] = {
        "phase": "Running",
        "podIP": ip,
        "hostIP": "10.0.0.1",
        "startTime": at,
        "qosClass": "BestEffort",
        "conditions": [
            {"type": t, "status": "True", "lastTransitionTime": at}
            for t in ("PodScheduled", "Initialized", "ContainersReady", "Ready")
        ],
        "containerStatuses": [
            {
                "name": c.get("name", "main"),
                "image": c.get("image", ""),
                "ready": True,
                "imageID": f"{c.get('image', '')}@sha256:{'0' * 64}",
                "restartCount": 0,
                "started": True,
                "state": {"running": {"startedAt": at}},
            }
            for c in containers
        ],
    }
    return pod

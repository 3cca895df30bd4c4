"""The Cluster Autoscaler, as it behaves on EKS: it fights a sleep that forgets to pause it.

Every scan interval, while its own Deployment wants a replica and a pod of it runs (a pod evicted from a
draining node still runs until the node goes), it looks for Pending pods; for pods no node group is already
bringing capacity for, it raises the desired size of the first node group whose nodes they fit, by one, within
the group's max.
"""

from __future__ import annotations

from collections.abc import Callable

from sentinel.config import Cluster
from sentinel.sandbox import kinds
from sentinel.sandbox.history import History
from sentinel.sandbox.nodes import NODEGROUP_LABEL, is_ready, labels
from sentinel.sandbox.store import Store
from sentinel.sandbox.workloads import fits, pending, running

SetDesired = Callable[[str, int], None]


class Autoscaler:
    def __init__(
        self,
        store: Store,
        history: History,
        cluster: Cluster,
        *,
        scan: float,
        set_desired: SetDesired,
        deployment: str = "kube-system/cluster-autoscaler",
    ) -> None:
        self.store = store
        self.history = history
        self.cluster = cluster
        self.scan = scan
        self.set_desired = set_desired
        self.namespace, self.name = deployment.split("/", 1)
        self._next = scan

    def alive(self) -> bool:
        d = self.store.find(kinds.DEPLOYMENT, self.namespace, self.name)
        if d is None or not (d.get("spec") or {}).get("replicas", 1):
            return False  # scaled to 0 (paused): its pods got SIGTERM and the process exits
        pods, _ = self.store.list(kinds.POD, namespace=self.namespace)
        return any(
            running(p) and any(r.get("uid") == d["metadata"]["uid"] for r in p["metadata"].get("ownerReferences", []))
            for p in pods
        )

    def step(self, now: float, sizes: dict[str, dict[str, int]]) -> None:
        if now < self._next:
            return
        self._next = now + self.scan
        if not self.alive():
            return
        pods, _ = self.store.list(kinds.POD)
        waiting = [p for p in pods if pending(p)]
        if not waiting:
            return
        nodes, _ = self.store.list(kinds.NODE)
        shapes = {ng: labels("template", ng, g, self.cluster.region) for ng, g in self.cluster.nodegroups.items()}
        coming: set[str] = set()
        for ng in shapes:
            mine = [
                n
                for n in nodes
                if n["metadata"].get("labels", {}).get(NODEGROUP_LABEL) == ng
                and not (n.get("spec") or {}).get("unschedulable")
            ]
            booting = sum(1 for n in mine if not is_ready(n))
            if booting or sizes.get(ng, {}).get("desiredSize", 0) > len(mine):
                coming.add(ng)
        unserved = [p for p in waiting if not any(fits(p, shapes[ng]) for ng in coming)]
        for ng in self.cluster.nodegroups:
            size = sizes.get(ng)
            if not size or size.get("desiredSize", 0) >= size.get("maxSize", 0):
                continue
            if any(fits(p, shapes[ng]) for p in unserved):
                old = size.get("desiredSize", 0)
                self.set_desired(ng, old + 1)
                self.history.record(
                    "autoscaler.scaled_up",
                    ng,
                    old=old,
                    new=old + 1,
                    pending=len([p for p in unserved if fits(p, shapes[ng])]),
                )
                return

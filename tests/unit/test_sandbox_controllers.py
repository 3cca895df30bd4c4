"""The simulated controllers on an in-memory store and a hand-driven clock (cluster seconds)."""

from __future__ import annotations

import yaml

from sentinel import config
from sentinel.sandbox import kinds, seed
from sentinel.sandbox.autoscaler import Autoscaler
from sentinel.sandbox.history import History
from sentinel.sandbox.nodes import NODEGROUP_LABEL, NodeLifecycle, is_ready
from sentinel.sandbox.store import Store
from sentinel.sandbox.workloads import Workloads

CLUSTER = config.from_mapping(yaml.safe_load(config.EMBEDDED), env={}).clusters["training"]
AT = "2025-01-01T00:00:00Z"


class World:
    """A store seeded like the sandbox, with the three controllers and sizes we set by hand."""

    def __init__(self) -> None:
        self.store, self.history = Store(), History()
        for kind, obj in seed.objects(CLUSTER):
            self.store.create(kind, obj, internal=True)
        self.sizes = {
            ng: {"minSize": g.awake.min, "desiredSize": g.awake.desired, "maxSize": g.awake.max}
            for ng, g in CLUSTER.nodegroups.items()
        }
        self.nodes = NodeLifecycle(self.store, self.history, CLUSTER, boot_delay=90, drain_delay=30)
        self.workloads = Workloads(self.store, self.history)
        self.autoscaler = Autoscaler(self.store, self.history, CLUSTER, scan=10, set_desired=self._set)
        self.nodes.seed(self.sizes, at=AT)
        self.workloads.step(at=AT)

    def _set(self, ng: str, desired: int) -> None:
        self.sizes[ng] = {**self.sizes[ng], "desiredSize": desired}

    def run(self, start: float, end: float, *, step: float = 5.0) -> None:
        t = start
        while t <= end:
            self.nodes.step(t, self.sizes, at=AT)
            self.workloads.step(at=AT)
            self.autoscaler.step(t, self.sizes)
            self.workloads.step(at=AT)
            t += step

    def nodes_of(self, ng: str) -> list[dict]:
        items, _ = self.store.list(kinds.NODE)
        return [n for n in items if n["metadata"]["labels"][NODEGROUP_LABEL] == ng]

    def deployment(self, ref: str) -> dict:
        ns, name = ref.split("/")
        return self.store.get(kinds.DEPLOYMENT, ns, name)

    def sleep(self, *, pause_autoscaler: bool) -> None:
        if pause_autoscaler:
            self.store.update(
                kinds.DEPLOYMENT,
                "kube-system",
                "cluster-autoscaler",
                lambda d: {**d, "spec": {**d["spec"], "replicas": 0}},
            )
        for ng in self.sizes:
            self.sizes[ng] = {**self.sizes[ng], "minSize": 0, "desiredSize": 0}


def test_seeded_cluster_is_awake_and_running() -> None:
    w = World()
    assert [is_ready(n) for n in w.nodes_of("managed-ng-1")] == [True, True]
    assert w.deployment("kube-system/coredns")["status"]["readyReplicas"] == 2
    rc = w.store.get(kinds.RAYCLUSTER, "sentinel-prod", "sentinel-training-cluster")
    assert rc["status"]["state"] == "ready" and rc["status"]["availableWorkerReplicas"] == 1


def test_new_nodes_turn_ready_only_after_the_boot_delay() -> None:
    w = World()
    w.sizes["worker-group-spot-1"]["desiredSize"] = 3
    w.run(0, 85)
    spot = w.nodes_of("worker-group-spot-1")
    assert len(spot) == 3 and sum(is_ready(n) for n in spot) == 1
    w.run(90, 95)
    assert all(is_ready(n) for n in w.nodes_of("worker-group-spot-1"))
    assert [e.kind for e in w.history.entries()].count("node.ready") == 2


def test_sleep_with_the_autoscaler_paused_leaves_no_nodes_and_coredns_pending() -> None:
    w = World()
    w.sleep(pause_autoscaler=True)
    w.run(0, 25)
    assert all((n.get("spec") or {}).get("unschedulable") for n in w.nodes_of("managed-ng-1")), "cordoned first"
    w.run(30, 200)
    assert w.store.list(kinds.NODE)[0] == []
    coredns = w.deployment("kube-system/coredns")
    assert coredns["status"].get("readyReplicas", 0) == 0 and coredns["status"]["replicas"] == 2
    pods, _ = w.store.list(kinds.POD, namespace="kube-system")
    assert {p["status"]["phase"] for p in pods} == {"Pending"}
    assert w.history.entries("autoscaler.scaled_up") == []


def test_sleep_that_forgets_the_autoscaler_gets_its_nodes_back() -> None:
    w = World()
    w.sleep(pause_autoscaler=False)
    w.run(0, 300)
    ups = w.history.entries("autoscaler.scaled_up")
    assert ups and ups[0].old == 0 and ups[0].new == 1
    assert any(is_ready(n) for n in w.store.list(kinds.NODE)[0]), "the autoscaler brought a Ready node back"
    assert w.deployment("kube-system/coredns")["status"]["readyReplicas"] == 2


def test_autoscaler_raises_the_group_a_pending_pod_fits_within_max() -> None:
    w = World()
    w.store.create(
        kinds.POD,
        {
            "metadata": {"name": "big", "namespace": "default"},
            "spec": {"nodeSelector": {NODEGROUP_LABEL: "worker-group-spot-1", "x": "never"}},
        },
    )
    w.run(0, 100)
    assert w.history.entries("autoscaler.scaled_up") == [], "no group's nodes carry label x: nothing to do"
    w.store.delete(kinds.POD, "default", "big")
    w.sizes["worker-group-spot-1"] = {"minSize": 0, "desiredSize": 0, "maxSize": 1}
    w.run(105, 200)
    w.store.create(
        kinds.POD,
        {
            "metadata": {"name": "spot", "namespace": "default"},
            "spec": {"nodeSelector": {NODEGROUP_LABEL: "worker-group-spot-1"}},
        },
    )
    w.run(205, 400)
    assert [(e.name, e.old, e.new) for e in w.history.entries("autoscaler.scaled_up")] == [
        ("worker-group-spot-1", 0, 1)
    ]
    pod = w.store.get(kinds.POD, "default", "spot")
    assert pod["status"]["phase"] == "Running" and pod["spec"]["nodeName"] in {
        n["metadata"]["name"] for n in w.nodes_of("worker-group-spot-1")
    }


def test_scaling_a_deployment_makes_and_removes_pods() -> None:
    w = World()
    w.store.update(kinds.DEPLOYMENT, "kube-system", "coredns", lambda d: {**d, "spec": {**d["spec"], "replicas": 4}})
    w.run(0, 0)
    assert w.deployment("kube-system/coredns")["status"]["readyReplicas"] == 4
    w.store.update(kinds.DEPLOYMENT, "kube-system", "coredns", lambda d: {**d, "spec": {**d["spec"], "replicas": 0}})
    w.run(0, 0)
    pods, _ = w.store.list(kinds.POD, namespace="kube-system", labels=None)
    assert not [p for p in pods if p["metadata"]["name"].startswith("coredns")]
    assert "readyReplicas" not in w.deployment("kube-system/coredns")["status"], "omitted when 0, as on a real server"

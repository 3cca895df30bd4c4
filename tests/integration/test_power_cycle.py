"""Sleep and wake on the sandbox (moto EKS + Kubernetes emulator), real redis-server, real worker processes."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from sentinel import config
from sentinel.events import envelope, types
from sentinel.ops.powerstate import PowerStore
from sentinel.sandbox import Sandbox
from sentinel.workers import runtime
from tests.fixtures.redis import Workers, wait_for
from tests.fixtures.sandbox import aws_client, kube_client

CLOSED_PORT = "http://127.0.0.1:9"  # no Ray dashboard in these tests: the guard asks Kubernetes for RayJobs


class Cluster:
    def __init__(self, sb: Sandbox, workers: Workers, rt: runtime.Runtime) -> None:
        self.sb, self.workers, self.rt = sb, workers, rt
        self.store = PowerStore(rt.client, "training")
        self.eks = aws_client(sb, "eks")
        from kubernetes import client as k8s

        self.apps = k8s.AppsV1Api(kube_client(sb))

    def publish(self, action: str, **data: Any) -> envelope.Event:
        ev = envelope.Event(source="tests", type=f"sentinel.schedule.{action}", subject="training",
                            data={"cluster": "training", **data})
        assert self.rt.bus.publish(ev).accepted
        return ev

    def sizes(self) -> dict[str, tuple[int, int, int]]:
        out = {}
        for ng in ("managed-ng-1", "worker-group-spot-1"):
            sc = self.eks.describe_nodegroup(clusterName="du-yuyang-training", nodegroupName=ng)["nodegroup"][
                "scalingConfig"]
            out[ng] = (sc["minSize"], sc["desiredSize"], sc["maxSize"])
        return out

    def replicas(self) -> dict[str, int]:
        return {name: self.apps.read_namespaced_deployment_scale(name, "kube-system").spec.replicas
                for name in ("cluster-autoscaler", "metrics-server", "coredns")}

    def ready(self, name: str) -> int:
        return self.apps.read_namespaced_deployment(name, "kube-system").status.ready_replicas or 0

    def state(self) -> str:
        return self.store.state().state

    def settle(self, state: str, timeout: float = 90) -> None:
        wait_for(lambda: self.state() == state and self.store.pending() is None, timeout=timeout,
                 what=lambda: f"cluster {state}; audit: {_story(self.rt)}")


AWAKE_SIZES = {"managed-ng-1": (2, 2, 4), "worker-group-spot-1": (0, 1, 5)}
AWAKE_REPLICAS = {"cluster-autoscaler": 1, "metrics-server": 1, "coredns": 2}


@pytest.fixture
def cluster(sandbox: Sandbox, workers_factory: Callable[..., Workers]) -> Iterator[Cluster]:
    w = workers_factory(env={**sandbox.env, "SENTINEL_RAY_DASHBOARD": CLOSED_PORT}, task_time_limit=20,
                        visibility_timeout=24)
    rt = runtime.build(config.load(w.config_file, env={}), env={})
    yield Cluster(sandbox, w, rt)


def test_full_cycle_every_size_back_and_in_order(cluster: Cluster) -> None:
    cluster.workers.start(concurrency=2)
    assert cluster.sizes() == AWAKE_SIZES and cluster.replicas() == AWAKE_REPLICAS
    t_sleep = dt.datetime.now(dt.UTC).timestamp()
    cluster.publish("sleep", schedule="weeknight-sleep")
    cluster.settle("asleep")
    assert cluster.sizes() == {"managed-ng-1": (0, 0, 4), "worker-group-spot-1": (0, 0, 5)}
    assert cluster.replicas() == {"cluster-autoscaler": 0, "metrics-server": 0, "coredns": 0}
    cluster.publish("wake", schedule="weekday-wake")
    cluster.settle("awake")
    assert cluster.sizes() == AWAKE_SIZES and cluster.replicas() == AWAKE_REPLICAS
    assert cluster.ready("coredns") == 2

    hist = [e for e in cluster.sb.history if e.at >= t_sleep]
    # sleep: the autoscaler goes to 0 before anything else, node groups only after CoreDNS
    scaled = [(e.kind, e.name, e.new) for e in hist if e.kind in ("deployment.scaled", "nodegroup.scaled")]
    names = [n for _, n, _ in scaled]
    assert names[:5] == ["kube-system/cluster-autoscaler", "kube-system/metrics-server", "kube-system/coredns",
                         "managed-ng-1", "worker-group-spot-1"]
    # wake: node groups first, CoreDNS, metrics-server, the autoscaler last
    assert names[5:] == ["managed-ng-1", "worker-group-spot-1", "kube-system/coredns",
                         "kube-system/metrics-server", "kube-system/cluster-autoscaler"]
    # CoreDNS is asked to run only once a node is Ready again
    up = next(e for e in hist if e.kind == "nodegroup.scaled" and e.name == "managed-ng-1"
              and (e.new or {}).get("desiredSize", 0) > 0)
    first_ready = next(e for e in hist if e.kind == "node.ready" and e.at > up.at)
    coredns_up = next(e for e in hist if e.kind == "deployment.scaled" and e.name == "kube-system/coredns"
                      and (e.new or 0) > 0)
    assert coredns_up.at > first_ready.at
    assert not [e for e in hist if e.kind == "autoscaler.scaled_up"], "the autoscaler fought back"
    kinds = [r.fields.get("state") for r in cluster.rt.audit.read(limit=200) if r.kind == "transition"]
    assert kinds == ["sleeping", "asleep", "waking", "awake"]


def test_someone_scaled_by_hand_comes_back_at_their_size(cluster: Cluster) -> None:
    cluster.workers.start()
    cluster.eks.update_nodegroup_config(clusterName="du-yuyang-training", nodegroupName="managed-ng-1",
                                        scalingConfig={"minSize": 2, "desiredSize": 3, "maxSize": 4})
    cluster.publish("sleep")
    cluster.settle("asleep")
    cluster.publish("sleep")  # twice: must not forget the sizes
    wait_for(lambda: cluster.store.pending() is None)
    cluster.publish("wake")
    cluster.settle("awake")
    assert cluster.sizes()["managed-ng-1"] == (2, 3, 4)


# Where to kill the worker: the audit record (kind, step target) after which it dies.
SLEEP_POINTS = [("snapshot", None), ("step", "kube-system/metrics-server"), ("step", "managed-ng-1")]
WAKE_POINTS = [("step", "worker-group-spot-1"), ("step", "managed-ng-1@ready"), ("step", "kube-system/coredns")]


def _reached(rt: runtime.Runtime, since_id: str, kind: str, target: str | None) -> bool:
    for r in rt.audit.read(limit=300):
        if r.id <= since_id or r.kind != kind:
            continue
        t = r.fields.get("target")
        if target is None or t == target or (target.endswith("@ready") and r.fields.get("step") == "nodes_ready"
                                             and t == target.split("@")[0]):
            return True
    return False


def _story(rt: runtime.Runtime) -> list[tuple[str, str | None]]:
    return [(r.kind, r.fields.get("target") or r.fields.get("reason")) for r in rt.audit.read(limit=30)]


def _last_id(rt: runtime.Runtime) -> str:
    recs = rt.audit.read(limit=1)
    return recs[-1].id if recs else "0-0"


@pytest.mark.parametrize(("action", "point"), [("sleep", p) for p in SLEEP_POINTS] + [("wake", p) for p in WAKE_POINTS],
                         ids=lambda v: v if isinstance(v, str) else f"{v[0]}:{v[1]}")
def test_worker_killed_mid_playbook_converges(cluster: Cluster, action: str, point: tuple[str, str | None]) -> None:
    if action == "wake":
        cluster.workers.start(name="setup")
        cluster.publish("sleep")
        cluster.settle("asleep")
        cluster.workers.stop_all()
    doomed = cluster.workers.start(name="doomed")
    mark = _last_id(cluster.rt)
    cluster.publish(action)
    wait_for(lambda: _reached(cluster.rt, mark, *point), timeout=60,
             what=lambda: f"the worker to reach {point}; audit: {_story(cluster.rt)}")
    cluster.workers.kill(doomed)
    cluster.workers.start(name="rescuer")
    cluster.settle("asleep" if action == "sleep" else "awake", timeout=120)
    if action == "sleep":
        assert cluster.sizes() == {"managed-ng-1": (0, 0, 4), "worker-group-spot-1": (0, 0, 5)}
        assert set(cluster.replicas().values()) == {0}
    else:
        assert cluster.sizes() == AWAKE_SIZES and cluster.replicas() == AWAKE_REPLICAS
    snaps = [r for r in cluster.rt.audit.read(limit=300) if r.kind == "snapshot"]
    assert len(snaps) == 1, "the snapshot is taken once, never retaken from a half-asleep cluster"
    ng_updates = [e for e in cluster.sb.history if e.kind == "nodegroup.scaled" and e.name == "managed-ng-1"]
    assert len(ng_updates) == (1 if action == "sleep" else 2), "no node group update was repeated"


@pytest.mark.parametrize("last", ["sleep", "wake"])
def test_racing_requests_end_where_the_last_one_says(cluster: Cluster, last: str) -> None:
    cluster.workers.start(concurrency=2)
    first = "wake" if last == "sleep" else "sleep"
    for _ in range(20):
        cluster.publish(first)
        cluster.publish(last)
    wait_for(lambda: sum(r.kind == "succeeded" for r in cluster.rt.audit.read(limit=2000)) == 40, timeout=180,
             what="all 40 requests handled")
    cluster.settle("asleep" if last == "sleep" else "awake", timeout=120)
    if last == "sleep":
        assert cluster.sizes() == {"managed-ng-1": (0, 0, 4), "worker-group-spot-1": (0, 0, 5)}
    else:
        assert cluster.sizes() == AWAKE_SIZES and cluster.replicas() == AWAKE_REPLICAS
    intent = cluster.store.intent()
    assert intent is not None and intent.action == last


def test_running_rayjob_defers_a_scheduled_sleep_then_next_tick_sleeps(cluster: Cluster) -> None:
    from kubernetes import client as k8s

    api = k8s.CustomObjectsApi(kube_client(cluster.sb))
    body = {"apiVersion": "ray.io/v1", "kind": "RayJob", "metadata": {"name": "train-42"},
            "spec": {"entrypoint": "python -m sentinel.ml.pipeline"}}
    api.create_namespaced_custom_object("ray.io", "v1", "sentinel-prod", "rayjobs", body)
    api.patch_namespaced_custom_object_status("ray.io", "v1", "sentinel-prod", "rayjobs", "train-42",
                                              {"status": {"jobStatus": "RUNNING"}})
    cluster.workers.start()
    ev = cluster.publish("sleep", schedule="weeknight-sleep")
    wait_for(lambda: any(r.kind == "deferred" for r in cluster.rt.audit.read(limit=50, event_id=ev.id)),
             what="the deferral")
    rec = next(r for r in cluster.rt.audit.read(limit=50, event_id=ev.id) if r.kind == "deferred")
    assert "train-42" in rec.fields["reason"]
    assert cluster.sizes() == AWAKE_SIZES
    api.patch_namespaced_custom_object_status("ray.io", "v1", "sentinel-prod", "rayjobs", "train-42",
                                              {"status": {"jobStatus": "SUCCEEDED"}})
    cluster.publish("sleep", schedule="weeknight-sleep")  # the next tick
    cluster.settle("asleep")


def test_keep_awake_defers_scheduled_sleep(cluster: Cluster) -> None:
    cluster.workers.start()
    until = dt.datetime.now(dt.UTC) + dt.timedelta(hours=2)
    ka = envelope.Event(source="tests", type=types.KEEP_AWAKE,
                        data={"cluster": "training", "until": until.isoformat(), "requested_by": "ana"})
    cluster.rt.bus.publish(ka)
    wait_for(lambda: cluster.store.lease() is not None, what="the lease")
    ev = cluster.publish("sleep", schedule="weeknight-sleep")
    wait_for(lambda: any(r.kind == "deferred" for r in cluster.rt.audit.read(limit=50, event_id=ev.id)))
    assert cluster.sizes() == AWAKE_SIZES


@pytest.mark.slow
def test_running_ray_job_on_a_real_head_defers_the_sleep(
    sandbox: Sandbox, workers_factory: Callable[..., Workers], ray_head: Any
) -> None:
    from ray.job_submission import JobSubmissionClient

    w = workers_factory(env={**sandbox.env, **ray_head.env, "SENTINEL_RAY_DASHBOARD": ray_head.dashboard_url},
                        task_time_limit=20, visibility_timeout=24)
    rt = runtime.build(config.load(w.config_file, env={}), env={})
    c = Cluster(sandbox, w, rt)
    jobs = JobSubmissionClient(ray_head.dashboard_url)
    sid = jobs.submit_job(entrypoint="python -c 'import time; time.sleep(600)'", submission_id=f"nightly-{id(c)}")
    try:
        wait_for(lambda: str(jobs.get_job_status(sid)) in ("JobStatus.RUNNING", "RUNNING"), timeout=120,
                 what="the Ray job to run")
        w.start()
        ev = c.publish("sleep", schedule="weeknight-sleep")
        wait_for(lambda: any(r.kind == "deferred" for r in rt.audit.read(limit=50, event_id=ev.id)), timeout=60,
                 what="the deferral")
        rec = next(r for r in rt.audit.read(limit=50, event_id=ev.id) if r.kind == "deferred")
        assert sid in rec.fields["reason"] and c.sizes() == AWAKE_SIZES
    finally:
        jobs.stop_job(sid)
    wait_for(lambda: str(jobs.get_job_status(sid)).endswith("STOPPED"), timeout=60, what="the job to stop")
    c.publish("sleep", schedule="weeknight-sleep")  # the next schedule tick
    c.settle("asleep")

"""Sleep / wake / keep-awake playbooks on in-memory fakes and fakeredis: order, sizes, guards, resumption."""

from __future__ import annotations

import datetime as dt
from typing import Any

import fakeredis
import pytest

from sentinel import config
from sentinel.events import envelope, types
from sentinel.events.audit import Audit
from sentinel.events.bus import Bus
from sentinel.ops import plans, power
from sentinel.ops.context import Context
from sentinel.ops.powerstate import PowerStore
from tests.fakes.cloud import FakeCloud

CFG = config.load(None, env={})
CLUSTER = CFG.clusters["training"]


class World:
    def __init__(self) -> None:
        self.redis = fakeredis.FakeRedis()
        self.audit = Audit(self.redis)
        self.bus = Bus(self.redis, send=lambda *a, **k: None, audit=self.audit)
        self.cloud = FakeCloud.awake(CLUSTER)
        self.later: list[tuple[str, float]] = []
        self.store = PowerStore(self.redis, "training")

    def ctx(self, event: envelope.Event) -> Context:
        return Context(cfg=CFG, redis=self.redis, audit=self.audit, bus=self.bus, event=event,
                       connect=lambda _name: self.cloud.adapters,
                       later=lambda ev, delay: self.later.append((ev.id, delay)))

    def run(self, action: str, *, id: str | None = None, time: dt.datetime | None = None, **data: Any) -> Any:
        ev = envelope.Event(id=id or envelope.new_id(), source="tests", type=f"sentinel.schedule.{action}",
                            time=time or dt.datetime.now(dt.UTC), data={"cluster": "training", **data})
        parsed = types.parse_data(ev)
        return (power.sleep if action == "sleep" else power.wake)(self.ctx(ev), parsed)

    def sizes(self) -> dict[str, tuple[int, int, int]]:
        return {n: self.cloud.nodegroups.describe(n).sizes for n in CLUSTER.nodegroups}

    def replicas(self) -> dict[str, int]:
        return {r: self.cloud.kube.deployment(r).replicas for r in CLUSTER.system_deployments}

    def kinds(self) -> list[str]:
        return [r.kind for r in self.audit.read(limit=500)]


@pytest.fixture
def world() -> World:
    return World()


def test_full_cycle_brings_every_size_back(world: World) -> None:
    before_sizes, before_reps = world.sizes(), world.replicas()
    out = world.run("sleep")
    assert out["state"] == "asleep" and world.store.state().state == "asleep"
    assert world.sizes() == {"managed-ng-1": (0, 0, 4), "worker-group-spot-1": (0, 0, 5)}
    assert set(world.replicas().values()) == {0}
    assert world.cloud.kube.nodes() == []
    assert world.run("wake")["state"] == "awake"
    assert world.sizes() == before_sizes and world.replicas() == before_reps


def test_sleep_order_autoscaler_first_nodegroups_after_coredns(world: World) -> None:
    world.run("sleep")
    calls = [c for c in world.cloud.kube.calls if c[0] == "scale_deployment"]
    assert [c[1] for c in calls] == ["kube-system/cluster-autoscaler", "kube-system/metrics-server",
                                     "kube-system/coredns"]
    assert world.cloud.nodegroups.updates == [("managed-ng-1", 0, 0, 4), ("worker-group-spot-1", 0, 0, 5)]


def test_wake_order_nodes_ready_before_coredns_autoscaler_last(world: World) -> None:
    world.run("sleep")
    world.cloud.kube.calls.clear()
    world.run("wake")
    seq = [(c[0], c[1]) for c in world.cloud.kube.calls if c[0] in ("scale_deployment", "wait_nodes")]
    assert seq == [("wait_nodes", "managed-ng-1"), ("wait_nodes", "worker-group-spot-1"),
                   ("scale_deployment", "kube-system/coredns"), ("scale_deployment", "kube-system/metrics-server"),
                   ("scale_deployment", "kube-system/cluster-autoscaler")]


def test_hand_scaled_group_comes_back_at_its_real_size(world: World) -> None:
    world.cloud.nodegroups.scale("managed-ng-1", min=2, desired=3, max=4, token="by-hand")
    world.run("sleep")
    world.run("wake")
    assert world.sizes()["managed-ng-1"] == (2, 3, 4)


def test_sleeping_twice_does_not_forget_the_sizes(world: World) -> None:
    world.run("sleep")
    world.run("sleep")  # already asleep: sizes are zero now, the snapshot must survive
    snap = world.store.snapshot()
    assert snap is not None and snap.nodegroups["managed-ng-1"] == (2, 2, 4)
    world.run("wake")
    assert world.sizes()["managed-ng-1"] == (2, 2, 4)


def test_wake_without_snapshot_uses_configured_sizes(world: World) -> None:
    for n in CLUSTER.nodegroups:
        world.cloud.nodegroups.scale(n, min=0, desired=0, max=CLUSTER.nodegroups[n].awake.max, token=f"x-{n}")
    world.run("wake")
    assert world.sizes() == {"managed-ng-1": (2, 2, 4), "worker-group-spot-1": (0, 1, 5)}
    assert world.replicas()["kube-system/coredns"] == 2


def test_running_ray_job_defers_a_scheduled_sleep(world: World) -> None:
    world.cloud.ray.add("train-1", status="RUNNING")
    out = world.run("sleep", schedule="weeknight-sleep")
    assert "1 Ray job(s) running: train-1" in out["deferred"]
    assert world.sizes()["managed-ng-1"] == (2, 2, 4)
    rec = next(r for r in world.audit.read(limit=50) if r.kind == "deferred")
    assert "train-1" in rec.fields["reason"]
    assert world.later and "#recheck@" in world.later[0][0]  # it looks again later, as a new event id
    world.cloud.ray.set_status("train-1", "SUCCEEDED")
    assert world.run("sleep", schedule="weeknight-sleep")["state"] == "asleep"


def test_keep_awake_lease_defers_scheduled_sleep_but_force_wins(world: World) -> None:
    until = dt.datetime.now(dt.UTC) + dt.timedelta(hours=2)
    ev = envelope.Event(source="tests", type=types.KEEP_AWAKE,
                        data={"cluster": "training", "until": until.isoformat(), "requested_by": "ana"})
    power.keep_awake(world.ctx(ev), types.parse_data(ev))
    out = world.run("sleep", schedule="weeknight-sleep")
    assert "keep-awake lease by ana" in out["deferred"]
    assert world.later[-1][1] == pytest.approx(7200, abs=5)
    assert world.run("sleep", force=True)["state"] == "asleep"


def test_keep_awake_wakes_a_sleeping_cluster(world: World) -> None:
    world.run("sleep")
    until = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
    ev = envelope.Event(source="tests", type=types.KEEP_AWAKE, data={"cluster": "training", "until": until.isoformat()})
    power.keep_awake(world.ctx(ev), types.parse_data(ev))
    assert world.store.state().state == "awake" and world.sizes()["managed-ng-1"] == (2, 2, 4)


def test_older_request_does_not_override_newer(world: World) -> None:
    t = dt.datetime.now(dt.UTC)
    world.run("sleep", time=t)
    world.run("wake", time=t - dt.timedelta(seconds=5))  # arrives late, was made earlier
    assert world.store.state().state == "asleep"
    assert "superseded" in world.kinds()


def test_redelivered_sleep_resumes_without_retaking_snapshot(world: World) -> None:
    # a sleep that died after CoreDNS went to zero: state "sleeping", the snapshot saved
    world.cloud.kube.fail("wait_no_nodes", power.TransientError("worker killed"))
    with pytest.raises(power.TransientError):
        world.run("sleep", id="s1")
    assert world.store.state().state == "sleeping"
    world.run("sleep", id="s1")  # the redelivery of the same event
    assert world.store.state().state == "asleep"
    assert world.store.snapshot().version == 1  # type: ignore[union-attr]
    assert len([u for u in world.cloud.nodegroups.updates if u[0] == "managed-ng-1"]) == 1
    world.run("wake")
    assert world.sizes()["managed-ng-1"] == (2, 2, 4)


def test_wake_times_out_to_degraded(world: World) -> None:
    world.run("sleep")
    world.cloud.kube.boot_ticks = 10_000
    out = world.run("wake")
    assert out["state"] == "degraded" and "Ready nodes" in out["reason"]
    assert world.replicas()["kube-system/coredns"] == 0  # never asked to run without Ready nodes


def test_plan_describes_calls_in_order() -> None:
    obs = plans.Observed(nodegroups={"managed-ng-1": (2, 2, 4), "worker-group-spot-1": (0, 1, 5)},
                         deployments={r: 1 for r in CLUSTER.system_deployments})
    snap = plans.take_snapshot(obs, CLUSTER, previous=None, now=dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
    lines = plans.plan_sleep(obs, CLUSTER, snapshot=snap).describe()
    assert lines[0] == "1. kubectl scale deployment cluster-autoscaler -n kube-system --replicas=0   # 1 → 0"
    assert "managed-ng-1 scalingConfig min/desired/max 2/2/4 → 0/0/4" in lines[6]
    assert lines[-1].endswith("wait until no node of managed-ng-1, worker-group-spot-1 is left")

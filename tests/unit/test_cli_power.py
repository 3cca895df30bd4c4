"""``sentinel status | sleep | wake | keep-awake | plan | scheduler | report cost`` through Typer's CliRunner.

The runtime is built by hand on fakeredis, with the in-memory cloud of ``tests/fakes`` as the cluster's adapters;
``sentinel.cli.main.rt`` / ``cfg`` are replaced to return them.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
import zoneinfo
from typing import Any

import fakeredis
import pytest
from typer.testing import CliRunner, Result

import sentinel.cli.main  # noqa: F401  (mounts sentinel.cli.power)
from sentinel import config
from sentinel.cli import power, report
from sentinel.errors import PermanentError, TransientError
from sentinel.events import types
from sentinel.events.audit import Audit
from sentinel.events.bus import Bus
from sentinel.events.deadletters import DeadLetters
from sentinel.ops import guards, plans
from sentinel.ops.powerstate import PowerStore
from sentinel.workers.runtime import Runtime
from tests.fakes.cloud import FakeCloud

CLI = sys.modules["sentinel.cli.main"]  # the module (the package's ``main`` attribute is the function)
CFG = config.load(None, env={})
CLUSTER = CFG.clusters["training"]
AWAKE = {"managed-ng-1": {"min": 2, "desired": 2, "max": 4}, "worker-group-spot-1": {"min": 0, "desired": 1, "max": 5}}
DEPLOYMENTS = {"kube-system/cluster-autoscaler": 1, "kube-system/metrics-server": 1, "kube-system/coredns": 2}
UTC = dt.UTC


class World:
    def __init__(self) -> None:
        self.server = fakeredis.FakeServer()
        self.redis = fakeredis.FakeRedis(server=self.server)
        self.audit = Audit(self.redis)
        self.sent: list[dict[str, Any]] = []
        self.bus = Bus(self.redis, send=lambda task, **kw: self.sent.append({"task": task, **kw}), audit=self.audit)
        self.cloud = FakeCloud.awake(CLUSTER)
        self.runtime = Runtime(cfg=CFG, client=self.redis, app=None, audit=self.audit,  # type: ignore[arg-type]
                               dlq=DeadLetters(self.redis), bus=self.bus, env={})
        self.runtime._adapters["training"] = self.cloud.adapters
        self.store = PowerStore(self.redis, "training")
        self.runner = CliRunner()

    def cli(self, *args: str) -> Result:
        return self.runner.invoke(CLI.app, list(args))

    def sizes(self) -> dict[str, tuple[int, int, int]]:
        return {n: self.cloud.nodegroups.describe(n).sizes for n in CLUSTER.nodegroups}

    def replicas(self) -> dict[str, int]:
        return {r: self.cloud.kube.deployment(r).replicas for r in CLUSTER.system_deployments}

    def events(self) -> list[dict[str, Any]]:
        return [s["event"] for s in self.sent]

    def put_asleep(self) -> None:
        """The cluster as the sleep playbook leaves it: a snapshot stored, everything at zero."""
        snap = plans.Snapshot(nodegroups={"managed-ng-1": (2, 2, 4), "worker-group-spot-1": (0, 1, 5)},
                              deployments=DEPLOYMENTS, taken_at=dt.datetime(2025, 3, 3, 9, tzinfo=UTC), version=3)
        self.store.save_snapshot(snap)
        self.store.set_state("asleep", now=dt.datetime(2025, 3, 3, 9, 5, tzinfo=UTC), event_id="ev-sleep")
        for ref in CLUSTER.system_deployments:
            self.cloud.kube.scale_deployment(ref, 0)
        for name, (_, _, mx) in snap.nodegroups.items():
            self.cloud.nodegroups.scale(name, min=0, desired=0, max=mx, token=f"t-{name}")
        self.cloud.tick(5)
        self.cloud.kube.calls.clear()
        self.cloud.nodegroups.calls.clear()
        self.cloud.nodegroups.updates.clear()


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> World:
    w = World()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("USER", "alice")
    monkeypatch.setattr(CLI, "rt", lambda path=None: w.runtime)
    monkeypatch.setattr(CLI, "cfg", lambda path=None: CFG)
    return w


# --- status ------------------------------------------------------------------------------------------------


def test_status_json_for_one_cluster_has_live_sizes_replicas_and_nodes(world: World) -> None:
    res = world.cli("status", "training", "--json")
    assert res.exit_code == 0, res.output
    st = json.loads(res.stdout)
    assert st["state"] == "unknown"
    assert st["nodegroups"] == AWAKE
    assert st["deployments"] == DEPLOYMENTS
    assert st["deployments_ready"] == DEPLOYMENTS
    assert st["nodes_ready"] == {"managed-ng-1": 2, "worker-group-spot-1": 1}
    assert st["snapshot"] is None and st["lease"] is None and st["intent"] is None
    assert st["errors"] == {}


def test_status_json_without_cluster_is_a_map_by_cluster(world: World) -> None:
    res = world.cli("status", "--json")
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert list(doc) == ["training"]
    assert doc["training"]["nodegroups"] == AWAKE


def test_status_shows_stored_state_snapshot_lease_and_pending_request(world: World) -> None:
    world.put_asleep()
    until = dt.datetime.now(UTC) + dt.timedelta(hours=2)
    world.store.set_lease(guards.Lease(until, "bob", "demo"), now=dt.datetime.now(UTC))
    world.store.record_intent("wake", event_id="ev-wake", at=dt.datetime(2025, 3, 4, 7, tzinfo=UTC))
    st = json.loads(world.cli("status", "training", "--json").stdout)
    assert st["state"] == "asleep" and st["since"] == "2025-03-03T09:05:00+00:00"
    assert st["snapshot"]["version"] == 3 and st["snapshot"]["nodegroups"] == AWAKE
    assert st["nodegroups"] == {"managed-ng-1": {"min": 0, "desired": 0, "max": 4},
                                "worker-group-spot-1": {"min": 0, "desired": 0, "max": 5}}
    assert set(st["deployments"].values()) == {0}
    assert st["nodes_ready"] == {"managed-ng-1": 0, "worker-group-spot-1": 0}
    assert st["lease"]["requested_by"] == "bob" and st["lease"]["active"] is True
    assert st["intent"]["action"] == "wake" and st["intent"]["pending"] is True

    text = world.cli("status", "training").stdout
    assert "training: asleep since 2025-03-03T09:05:00+00:00" in text
    assert "snapshot: v3" in text and "managed-ng-1 2/2/4" in text
    assert "keep-awake: until" in text and "by bob (demo)" in text
    assert "last request: wake (ev-wake" in text and "pending" in text


def test_status_with_eks_unreachable_still_prints_the_rest_and_names_the_part(world: World) -> None:
    world.store.set_state("awake", now=dt.datetime(2025, 3, 3, 7, tzinfo=UTC))
    world.cloud.nodegroups.fail("describe", TransientError("describe node group: could not connect to EKS"))
    res = world.cli("status", "training")
    assert res.exit_code == 0, res.output
    assert "training: awake since 2025-03-03T07:00:00+00:00" in res.stdout
    assert "could not read nodegroups: describe node group: could not connect to EKS" in res.stdout
    assert "kube-system/coredns" in res.stdout  # the Kubernetes part was still read


def test_status_when_the_cloud_cannot_be_wired_prints_the_stored_state(world: World,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    world.store.set_state("asleep", now=dt.datetime(2025, 3, 3, 9, tzinfo=UTC))

    def no_cloud(name: str) -> Any:
        raise PermanentError("kubernetes config (/nope): file not found")

    monkeypatch.setattr(world.runtime, "connect", no_cloud)
    res = world.cli("status", "training", "--json")
    assert res.exit_code == 0, res.output
    st = json.loads(res.stdout)
    assert st["state"] == "asleep" and st["nodegroups"] is None and st["deployments"] is None
    assert set(st["errors"]) == {"nodegroups", "deployments", "nodes"}
    assert "could not connect: kubernetes config (/nope)" in st["errors"]["nodegroups"]


def test_status_exits_1_when_nothing_at_all_can_be_read(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    world.server.connected = False

    def no_cloud(name: str) -> Any:
        raise TransientError("EKS unreachable")

    monkeypatch.setattr(world.runtime, "connect", no_cloud)
    res = world.cli("status", "training")
    assert res.exit_code == 1
    assert "could not read state: state store: read state" in res.stdout
    assert "nothing could be read" in res.stderr


def test_status_unknown_cluster_exits_2_with_the_configs_message(world: World) -> None:
    res = world.cli("status", "nope")
    assert res.exit_code == 2
    assert "unknown cluster 'nope' (configured: training)" in res.stderr


# --- sleep / wake ------------------------------------------------------------------------------------------


def test_sleep_publishes_one_sleep_event_and_changes_nothing_itself(world: World) -> None:
    res = world.cli("sleep", "training")
    assert res.exit_code == 0, res.output
    (event,) = world.events()
    assert res.stdout.strip() == f"{event['id']} accepted"
    assert event["type"] == types.SLEEP and event["source"] == "sentinel/cli" and event["subject"] == "training"
    assert event["data"] == {"cluster": "training", "requested_by": "alice", "force": False}
    assert world.sent[0]["task"] == "sentinel.ops.sleep" and world.sent[0]["queue"] == "ops"
    assert world.cloud.nodegroups.calls == [] and world.store.intent() is None


def test_sleep_force_and_requested_by_falls_back_to_cli(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("USER")
    assert world.cli("sleep", "training", "--force").exit_code == 0
    assert world.events()[0]["data"] == {"cluster": "training", "requested_by": "cli", "force": True}


def test_wake_publishes_a_wake_event(world: World) -> None:
    res = world.cli("wake", "training")
    assert res.exit_code == 0, res.output
    (event,) = world.events()
    assert res.stdout.strip() == f"{event['id']} accepted"
    assert event["type"] == types.WAKE
    assert event["data"] == {"cluster": "training", "requested_by": "alice", "force": False}


@pytest.mark.parametrize("args", [["sleep", "nope"], ["wake", "nope"], ["keep-awake", "nope", "--for", "2h"],
                                  ["plan", "sleep", "nope"], ["plan", "wake", "nope"]])
def test_unknown_cluster_exits_2_and_publishes_nothing(world: World, args: list[str]) -> None:
    res = world.cli(*args)
    assert res.exit_code == 2
    assert "unknown cluster 'nope' (configured: training)" in res.stderr
    assert world.sent == []


# --- keep-awake --------------------------------------------------------------------------------------------


def test_keep_awake_for_publishes_a_tz_aware_until(world: World) -> None:
    before = dt.datetime.now(UTC)
    res = world.cli("keep-awake", "training", "--for", "2h", "--reason", "demo at 3")
    after = dt.datetime.now(UTC)
    assert res.exit_code == 0, res.output
    (event,) = world.events()
    assert event["type"] == types.KEEP_AWAKE and event["subject"] == "training"
    data = types.KeepAwakeData.model_validate(event["data"])
    assert before + dt.timedelta(hours=2) <= data.until <= after + dt.timedelta(hours=2)
    assert data.requested_by == "alice" and data.reason == "demo at 3"
    assert res.stdout.strip().endswith(f"{event['id']} accepted")


def test_keep_awake_for_90m(world: World) -> None:
    before = dt.datetime.now(UTC)
    assert world.cli("keep-awake", "training", "--for", "90m").exit_code == 0
    until = types.KeepAwakeData.model_validate(world.events()[0]["data"]).until
    assert dt.timedelta(minutes=89) < until - before <= dt.timedelta(minutes=91)


def test_keep_awake_until_is_the_next_such_time_in_the_given_zone(world: World) -> None:
    sydney = zoneinfo.ZoneInfo("Australia/Sydney")
    before = dt.datetime.now(UTC)
    assert world.cli("keep-awake", "training", "--until", "22:00", "--tz", "Australia/Sydney").exit_code == 0
    until = types.KeepAwakeData.model_validate(world.events()[0]["data"]).until
    local = until.astimezone(sydney)
    assert (local.hour, local.minute) == (22, 0)
    assert dt.timedelta(0) < until - before <= dt.timedelta(hours=24)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--for", "soon"], "not a duration"),
        (["--for", "0m"], "above zero"),
        (["--for", "2h", "--until", "22:00"], "exactly one of --for"),
        ([], "exactly one of --for"),
        (["--until", "25:00"], "not a time like 22:00"),
        (["--until", "22:00", "--tz", "Mars/Olympus"], "not an IANA timezone"),
    ],
)
def test_keep_awake_bad_arguments_exit_2(world: World, args: list[str], message: str) -> None:
    res = world.cli("keep-awake", "training", *args)
    assert res.exit_code == 2
    assert message in res.stderr
    assert world.sent == []


def test_next_local_time_is_strictly_after_now_and_follows_dst() -> None:
    sydney = zoneinfo.ZoneInfo("Australia/Sydney")
    # Sydney leaves daylight saving at 03:00 on 2024-04-07 (UTC+11 → UTC+10).
    now = dt.datetime(2024, 4, 6, 21, 0, tzinfo=sydney)
    assert power.next_local_time("22:00", now=now, tz=sydney) == dt.datetime(2024, 4, 6, 22, 0, tzinfo=sydney)
    later = power.next_local_time("22:00", now=dt.datetime(2024, 4, 6, 23, 0, tzinfo=sydney), tz=sydney)
    assert later.isoformat() == "2024-04-07T22:00:00+10:00"
    same = power.next_local_time("22:00", now=dt.datetime(2024, 4, 6, 22, 0, tzinfo=sydney), tz=sydney)
    assert same.date() == dt.date(2024, 4, 7)
    assert power.next_local_time("7:30", now=now.astimezone(UTC), tz=sydney).isoformat() == "2024-04-07T07:30:00+10:00"


def test_next_local_time_without_tz_uses_the_machines_local_zone() -> None:
    now = dt.datetime.now(UTC)
    at = power.next_local_time("06:15", now=now)
    local = at.astimezone()
    assert at.tzinfo is not None and (local.hour, local.minute) == (6, 15)
    assert dt.timedelta(0) < at - now <= dt.timedelta(hours=25)


# --- plan --------------------------------------------------------------------------------------------------


def _keys(w: World) -> dict[bytes, Any]:
    return {k: w.redis.dump(k) for k in w.redis.keys("*")}


def test_plan_sleep_prints_the_calls_in_order_and_changes_nothing(world: World) -> None:
    sizes, reps, keys = world.sizes(), world.replicas(), _keys(world)
    res = world.cli("plan", "sleep", "training")
    assert res.exit_code == 0, res.output
    lines = res.stdout.splitlines()
    steps = [line.strip() for line in lines[lines.index("steps:") + 1:] if line.startswith("  ")]
    assert steps == [
        "1. kubectl scale deployment cluster-autoscaler -n kube-system --replicas=0   # 1 → 0",
        "2. wait until kube-system/cluster-autoscaler: no replica is ready",
        "3. kubectl scale deployment metrics-server -n kube-system --replicas=0   # 1 → 0",
        "4. wait until kube-system/metrics-server: no replica is ready",
        "5. kubectl scale deployment coredns -n kube-system --replicas=0   # 2 → 0",
        "6. wait until kube-system/coredns: no replica is ready",
        "7. eks update-nodegroup-config managed-ng-1 scalingConfig min/desired/max 2/2/4 → 0/0/4",
        "8. eks update-nodegroup-config worker-group-spot-1 scalingConfig min/desired/max 0/1/5 → 0/0/5",
        "9. wait until no node of managed-ng-1, worker-group-spot-1 is left",
    ]
    assert "guard: go: no running Ray jobs, no keep-awake lease" in lines
    assert any(line.startswith("snapshot: would save snapshot v1: managed-ng-1 2/2/4") for line in lines)
    # nothing changed: sizes, replicas, no call that acts, and not one Redis key written
    assert world.sizes() == sizes and world.replicas() == reps
    assert world.cloud.nodegroups.calls == [] and world.cloud.kube.calls == []
    assert _keys(world) == keys and world.store.snapshot() is None and world.store.state().state == "unknown"
    assert world.sent == []


def test_plan_sleep_guard_defers_on_running_ray_job_and_lease(world: World) -> None:
    world.cloud.ray.add("train-42")
    res = world.cli("plan", "sleep", "training")
    assert res.exit_code == 0, res.output
    assert "guard: defer: 1 Ray job(s) running: train-42" in res.stdout
    assert "steps (not carried out while the guard defers):" in res.stdout
    world.cloud.ray.set_status("train-42", "SUCCEEDED")
    world.store.set_lease(guards.Lease(dt.datetime.now(UTC) + dt.timedelta(hours=1), "bob", "demo"),
                          now=dt.datetime.now(UTC))
    res = world.cli("plan", "sleep", "training")
    assert "guard: defer: keep-awake lease by bob until" in res.stdout and "use force to override" in res.stdout
    forced = world.cli("plan", "sleep", "training", "--force")
    assert "guard: go: forced by the requester" in forced.stdout
    assert world.cloud.nodegroups.calls == [] and world.sent == []


def test_plan_sleep_says_when_ray_is_unreachable(world: World) -> None:
    world.cloud.ray.fail("list_jobs", TransientError("connect to Ray dashboard http://127.0.0.1:8265: refused"))
    world.cloud.ray.fail("running", TransientError("connect to Ray dashboard http://127.0.0.1:8265: refused"))
    res = world.cli("plan", "sleep", "training")
    assert res.exit_code == 0, res.output
    assert "note: Ray unreachable (connect to Ray dashboard http://127.0.0.1:8265: refused)" in res.stdout
    assert "guard: go" in res.stdout


def test_plan_wake_brings_back_the_stored_snapshot_nodes_first_autoscaler_last(world: World) -> None:
    world.put_asleep()
    sizes, keys = world.sizes(), _keys(world)
    res = world.cli("plan", "wake", "training")
    assert res.exit_code == 0, res.output
    lines = res.stdout.splitlines()
    assert lines[0] == "plan: wake training (state: asleep)"
    assert lines[2].startswith("snapshot: back to stored snapshot v3")
    steps = [line.strip() for line in lines[lines.index("steps:") + 1:] if line.startswith("  ")]
    assert steps == [
        "1. eks update-nodegroup-config managed-ng-1 scalingConfig min/desired/max 0/0/4 → 2/2/4",
        "2. eks update-nodegroup-config worker-group-spot-1 scalingConfig min/desired/max 0/0/5 → 0/1/5",
        "3. wait until 2 node(s) of managed-ng-1 are Ready",
        "4. wait until 1 node(s) of worker-group-spot-1 are Ready",
        "5. kubectl scale deployment coredns -n kube-system --replicas=2   # 0 → 2",
        "6. wait until kube-system/coredns: 2 replica(s) are ready",
        "7. kubectl scale deployment metrics-server -n kube-system --replicas=1   # 0 → 1",
        "8. wait until kube-system/metrics-server: 1 replica(s) are ready",
        "9. kubectl scale deployment cluster-autoscaler -n kube-system --replicas=1   # 0 → 1",
        "10. wait until kube-system/cluster-autoscaler: 1 replica(s) are ready",
    ]
    assert "guard:" not in res.stdout
    assert world.sizes() == sizes and _keys(world) == keys
    assert world.cloud.nodegroups.calls == [] and world.cloud.kube.calls == []


# --- scheduler ---------------------------------------------------------------------------------------------


def test_scheduler_runs_with_the_buses_publish(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[tuple[Any, Any]] = []
    monkeypatch.setattr("sentinel.cli.schedule.run_scheduler", lambda cfg, publish: seen.append((cfg, publish)))
    res = world.cli("scheduler")
    assert res.exit_code == 0, res.output
    assert seen == [(CFG, world.bus.publish)]


# --- report cost -------------------------------------------------------------------------------------------


def _transition(w: World, at: dt.datetime, state: str, nodes: dict[str, int] | None = None) -> None:
    ngs = {n: {"nodes": k, "instance_type": CLUSTER.nodegroups[n].instance_type} for n, k in (nodes or {}).items()}
    fields = w.audit.fields("transition", now=at, cluster="training", state=state, nodegroups=ngs)
    w.redis.xadd(w.audit.stream, fields, id=f"{int(at.timestamp() * 1000)}-0")  # type: ignore[arg-type]


def test_report_cost_prices_the_hours_asleep(world: World) -> None:
    now = dt.datetime.now(UTC)
    _transition(world, now - dt.timedelta(hours=10, minutes=1), "sleeping")
    _transition(world, now - dt.timedelta(hours=10), "asleep", {"managed-ng-1": 2, "worker-group-spot-1": 1})
    _transition(world, now - dt.timedelta(hours=2), "waking", {"managed-ng-1": 2, "worker-group-spot-1": 1})
    _transition(world, now - dt.timedelta(hours=1, minutes=50), "awake")
    res = world.cli("report", "cost", "--since", "7d", "--json")
    assert res.exit_code == 0, res.output
    rep = json.loads(res.stdout)
    by_ng = {g["nodegroup"]: g for g in rep["nodegroups"]}
    assert by_ng["managed-ng-1"]["node_hours"] == pytest.approx(16.0, abs=0.01)
    assert by_ng["worker-group-spot-1"]["node_hours"] == pytest.approx(8.0, abs=0.01)
    assert rep["total_usd"] == pytest.approx(16 * 0.192 + 8 * 0.384, abs=0.01)
    table = world.cli("report", "cost").stdout
    assert "managed-ng-1" in table and "total avoided: $6.14" in table


def test_report_cost_counts_a_sleep_that_began_before_the_period_from_its_start(world: World) -> None:
    now = dt.datetime.now(UTC)
    _transition(world, now - dt.timedelta(hours=30), "asleep", {"managed-ng-1": 2})
    _transition(world, now - dt.timedelta(hours=2), "waking", {"managed-ng-1": 2})
    rep = json.loads(world.cli("report", "cost", "--since", "24h", "--json").stdout)
    assert rep["nodegroups"][0]["node_hours"] == pytest.approx(2 * 22.0, abs=0.01)


@pytest.mark.parametrize("since", ["soon", "0d", "2999-01-01"])
def test_report_cost_bad_since_exits_2(world: World, since: str) -> None:
    res = world.cli("report", "cost", "--since", since)
    assert res.exit_code == 2
    assert "--since" in res.stderr


def test_parse_since_reads_iso_dates_and_durations() -> None:
    now = dt.datetime(2025, 3, 10, 12, tzinfo=UTC)
    assert report.parse_since("7d", now=now) == dt.datetime(2025, 3, 3, 12, tzinfo=UTC)
    assert report.parse_since("2025-03-01T00:00:00+00:00", now=now) == dt.datetime(2025, 3, 1, tzinfo=UTC)
    assert report.parse_since("2025-03-01", now=now).tzinfo is not None

"""Retrain and deploy playbooks on fakes: one Ray job per event, wake-on-demand, deploy, smoke, rollback."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import fakeredis
import pytest

from sentinel import config
from sentinel.errors import PermanentError
from sentinel.events import envelope, types
from sentinel.events.audit import Audit
from sentinel.events.bus import Bus
from sentinel.ops import deploy, ports, power, retrain
from sentinel.ops.context import Context
from sentinel.ops.powerstate import PowerStore
from tests.fakes.cloud import FakeCloud
from tests.fakes.serving import FakeRegistry, FakeServing

CFG = config.load(None, env={})
CLUSTER = CFG.clusters["training"]


class World:
    def __init__(self) -> None:
        self.redis = fakeredis.FakeRedis()
        self.audit = Audit(self.redis)
        self.sent: list[tuple[str, dict[str, Any]]] = []
        self.bus = Bus(self.redis, send=lambda task, *, event, **_: self.sent.append((task, event)), audit=self.audit)
        self.cloud = FakeCloud.awake(CLUSTER)
        self.serving = FakeServing()
        self.registry = FakeRegistry()
        self.later: list[tuple[str, float]] = []

    @property
    def adapters(self) -> Any:
        return dataclasses.replace(self.cloud.adapters, serving=self.serving, registry=self.registry)

    def ctx(self, event: envelope.Event) -> Context:
        return Context(cfg=CFG, redis=self.redis, audit=self.audit, bus=self.bus, event=event,
                       connect=lambda _n: self.adapters, later=lambda ev, d: self.later.append((ev.id, d)))

    def finish_jobs(self, version_rmse: float = 0.91) -> None:
        """The 'Ray cluster': every submitted job succeeds and registers its --version."""
        for sid in list(self.cloud.ray.jobs):
            job = self.cloud.ray.jobs[sid]
            if job.status in ("PENDING", "RUNNING"):
                version = job.entrypoint.split("--version ")[1].split()[0]
                self.registry.register(version, rmse=version_rmse)
                line = json.dumps({"kind": "sentinel.ml.pipeline", "version": version, "rmse": version_rmse,
                                   "compute_saved_pct": 81.5, "trials": 8})
                self.cloud.ray.set_status(sid, "SUCCEEDED", logs=f"training…\n{line}\n")


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> World:
    w = World()
    real_follow = retrain.follow

    def follow(ray: Any, sid: str, *, timeout: float) -> str:
        w.finish_jobs()
        return real_follow(ray, sid, timeout=timeout)

    monkeypatch.setattr(retrain, "follow", follow)
    return w


def retrain_event(id: str = "up-1", **data: Any) -> envelope.Event:
    return envelope.Event(id=id, source="sentinel/s3", type=types.RETRAIN,
                          data={"cluster": "training", "objects": [{"bucket": "training-artifacts",
                                                                     "key": "data/ratings/a.csv"}], **data})


def run_retrain(w: World, ev: envelope.Event) -> Any:
    return retrain.run(w.ctx(ev), types.parse_data(ev))


def test_retrain_submits_one_job_and_asks_for_a_deploy(world: World) -> None:
    out = run_retrain(world, retrain_event())
    assert len(world.cloud.ray.submitted) == 1
    job = world.cloud.ray.jobs[out["submission_id"]]
    assert "--data s3://training-artifacts/data/ratings/a.csv" in job.entrypoint
    assert job.metadata["correlation_id"] == "up-1"
    assert out["version"] in world.registry.cards and out["compute_saved_pct"] == 81.5
    (task, child), = world.sent
    assert task == "sentinel.ml.deploy" and child["data"]["model_version"] == out["version"]
    assert child["correlationid"] == "up-1"


def test_same_retrain_event_twice_is_one_ray_job(world: World) -> None:
    a = run_retrain(world, retrain_event("dup"))
    b = run_retrain(world, retrain_event("dup"))  # a redelivery: the job already exists, follow it
    assert a["submission_id"] == b["submission_id"] and len(world.cloud.ray.submitted) == 1


def test_retrain_wakes_a_sleeping_cluster_first(world: World) -> None:
    ev = envelope.Event(source="t", type=types.SLEEP, data={"cluster": "training"})
    power.sleep(world.ctx(ev), types.parse_data(ev))
    assert PowerStore(world.redis, "training").state().state == "asleep"
    run_retrain(world, retrain_event("wake-me"))
    assert PowerStore(world.redis, "training").state().state == "awake"
    assert world.cloud.nodegroups.describe("managed-ng-1").sizes == (2, 2, 4)
    kinds = [r.kind for r in world.audit.read(limit=200)]
    assert kinds.index("wake_on_demand") < kinds.index("ray_job")


def test_failed_job_is_permanent_with_its_logs(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(ray: Any, sid: str, *, timeout: float) -> str:
        world.cloud.ray.set_status(sid, "FAILED", logs="ValueError: ratings.csv has no rating column")
        return "FAILED"

    monkeypatch.setattr(retrain, "follow", fail)
    with pytest.raises(PermanentError, match="no rating column"):
        run_retrain(world, retrain_event("bad-data"))
    assert PowerStore(world.redis, "training").lease() is None  # the retrain's lease is released


def deploy_event(version: str | None) -> envelope.Event:
    data: dict[str, Any] = {"cluster": "training"}
    if version:
        data["model_version"] = version
    return envelope.Event(source="t", type=types.DEPLOY, data=data)


def test_deploy_serves_the_version_and_moves_current(world: World) -> None:
    world.registry.register("v1")
    out = deploy.run(world.ctx(deploy_event("v1")), types.parse_data(deploy_event("v1")))
    assert out["version"] == "v1" and world.registry.current() == "v1"
    assert world.serving.apps["recommender"] == {"registry": CFG.ml.storage, "version": "v1"}


def test_failed_smoke_rolls_back(world: World) -> None:
    for v in ("v1", "v2"):
        world.registry.register(v)
    ev = deploy_event("v1")
    deploy.run(world.ctx(ev), types.parse_data(ev))
    world.serving.broken.add("v2")
    ev = deploy_event("v2")
    with pytest.raises(PermanentError, match="rolled back to v1"):
        deploy.run(world.ctx(ev), types.parse_data(ev))
    assert world.serving.apps["recommender"]["version"] == "v1" and world.registry.current() == "v1"
    assert world.serving.deploys == ["v1", "v2", "v1"]
    assert any(r.kind == "rolled_back" for r in world.audit.read(limit=50))


def test_deploy_of_unknown_version_is_refused(world: World) -> None:
    ev = deploy_event("nope")
    with pytest.raises(PermanentError, match="not registered"):
        deploy.run(world.ctx(ev), types.parse_data(ev))
    assert world.serving.deploys == []


def test_serve_app_config_shape() -> None:
    app = ports.ServeApp("recommender", deploy.IMPORT_PATH, {"registry": "s3://b/models", "version": "v3"})
    assert app.config() == {"name": "recommender", "route_prefix": "/", "import_path": "sentinel.ml.serve:app",
                            "args": {"registry": "s3://b/models", "version": "v3"}}


def test_after_the_work_the_cluster_sleeps_again_if_the_schedule_says_so(world: World) -> None:
    import yaml

    doc = yaml.safe_load(config.EMBEDDED)
    doc["schedules"] = [{"name": "always-night", "cluster": "training", "action": "sleep", "cron": "* * * * *"}]
    cfg = config.from_mapping(doc, env={})
    ev = retrain_event("night-upload")
    ctx = world.ctx(ev)
    ctx.cfg = cfg
    retrain.run(ctx, types.parse_data(ev))
    (later_id, delay), = world.later
    assert later_id == "night-upload#idle-sleep" and delay == cfg.ml.idle_before_sleep


def test_no_sleep_after_the_work_when_the_schedule_says_awake(world: World) -> None:
    import yaml

    doc = yaml.safe_load(config.EMBEDDED)
    doc["schedules"] = [{"name": "always-day", "cluster": "training", "action": "wake", "cron": "* * * * *"}]
    ev = retrain_event("day-upload")
    ctx = world.ctx(ev)
    ctx.cfg = config.from_mapping(doc, env={})
    retrain.run(ctx, types.parse_data(ev))
    assert world.later == []

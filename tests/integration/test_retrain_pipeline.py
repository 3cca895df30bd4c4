"""Retrain end to end on a real local Ray head: event → Ray job (Train, Tune+ASHA) → model version registered →
deployed with Serve → `/recommend` answers with the new version. A redelivered event follows the same job."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from sentinel import config
from sentinel.events import envelope, types
from sentinel.sandbox import Sandbox
from sentinel.workers import runtime
from tests.fixtures.redis import Workers, wait_for

pytestmark = pytest.mark.slow


def test_retrain_event_to_served_model(
    sandbox: Sandbox, workers_factory: Callable[..., Workers], ray_head: Any, tmp_path: Path
) -> None:
    from ray.job_submission import JobSubmissionClient

    models = tmp_path / "models"
    env = {**sandbox.env, **ray_head.env, "SENTINEL_RAY_DASHBOARD": ray_head.dashboard_url,
           "SENTINEL_RAY_SERVE": ray_head.serve_url}
    w = workers_factory(env=env, task_time_limit=900, visibility_timeout=960,
                        ml={"storage": str(models), "num_workers": 2, "epochs": 2, "tune_trials": 2,
                            "tune_max_epochs": 2, "deploy_timeout": 240, "deploy_after_retrain": True})
    w.start(concurrency=2)
    rt = runtime.build(config.load(w.config_file, env={}), env={})
    ev = envelope.Event(id="ratings-upload-1", source="tests/s3", type=types.RETRAIN, subject="training",
                        data={"cluster": "training"})
    assert rt.bus.publish(ev).accepted
    assert not rt.bus.publish(ev).accepted  # the same event again: a duplicate, nothing runs twice

    def story() -> str:
        return str([(r.kind, r.fields.get("reason") or r.fields.get("version")) for r in
                    rt.audit.read(limit=60, event_id=ev.id)])

    wait_for(lambda: any(r.kind == "model_registered" for r in rt.audit.read(limit=100, event_id=ev.id)),
             timeout=600, interval=1, what=story)
    reg = next(r for r in rt.audit.read(limit=100, event_id=ev.id) if r.kind == "model_registered")
    version = reg.fields["version"]
    assert (models / "versions" / version / "model_card.json").exists()

    # the deploy it asked for (same correlation id) serves the new version
    wait_for(lambda: any(r.kind in ("deployed", "dead_lettered") and r.fields.get("type") == types.DEPLOY
                         for r in rt.audit.read(limit=200, event_id=ev.id)), timeout=300, interval=1, what=story)
    assert any(r.kind == "deployed" for r in rt.audit.read(limit=200, event_id=ev.id)), story()
    r = httpx.post(f"{ray_head.serve_url}/recommend", json={"user_id": 42, "movie_ids": [100, 200, 300]}, timeout=30)
    assert r.status_code == 200 and r.json()["model_version"] == version
    assert json.loads((models / "current.json").read_text())["version"] == version

    # a redelivery of the same event (the worker died after submitting) follows the job, submits nothing new
    rt.bus.replay(ev, reason="test: redelivery")
    wait_for(lambda: sum(r.kind == "succeeded" and r.fields.get("type") == types.RETRAIN
                         for r in rt.audit.read(limit=300, event_id=ev.id)) == 2, timeout=300, interval=1, what=story)
    jobs = [j for j in JobSubmissionClient(ray_head.dashboard_url).list_jobs()
            if (j.metadata or {}).get("event_id") == ev.id]
    assert len(jobs) == 1

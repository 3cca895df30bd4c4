"""The retrain playbook: new data → (wake the cluster if needed) → one Ray job (Train, Tune with ASHA, register)
→ a model version → ``sentinel.deploy.requested``.

The Ray job's ``submission_id`` is derived from the event, so a redelivered task (or the same event twice) follows
the job that already exists instead of submitting another. The job is ``python -m sentinel.ml.pipeline``; its last
stdout line is a JSON summary (version, RMSE, compute saved by ASHA …).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import shlex
import time
from collections.abc import Mapping
from typing import Any

from sentinel.errors import PermanentError, TransientError, shorten
from sentinel.events import schedules, types
from sentinel.events.types import RetrainData
from sentinel.ops import guards, power
from sentinel.ops.context import Context
from sentinel.ops.powerstate import PowerStore

TERMINAL = {"SUCCEEDED", "FAILED", "STOPPED"}
POLL = 2.0
RETRAIN_LEASE = "sentinel/retrain"


def submission_id(source: str, event_id: str) -> str:
    return "retrain-" + hashlib.sha256(f"{source}\x00{event_id}".encode()).hexdigest()[:20]


def version_for(event_time: dt.datetime, sid: str) -> str:
    """A model version id that sorts by time and is the same for every attempt of one event."""
    return f"v{event_time.astimezone(dt.UTC):%Y%m%d-%H%M%S}-{sid[-6:]}"


def entrypoint(
    data: RetrainData, *, storage: str, version: str, trials: int, epochs: int, workers: int,
    max_epochs: int | None = None,
) -> str:
    args = ["python", "-m", "sentinel.ml.pipeline", "--storage", storage, "--version", version,
            "--tune-trials", str(trials), "--epochs", str(epochs), "--workers", str(workers)]
    if max_epochs:
        args += ["--max-epochs", str(max_epochs)]
    if data.objects:
        args += ["--data", *[f"s3://{o.bucket}/{o.key}" for o in data.objects]]
    else:
        args += ["--synthetic"]
    return shlex.join(args)


def summary_of(logs_text: str) -> dict[str, Any]:
    for line in reversed(logs_text.strip().splitlines()):
        line = line.strip()
        if line.startswith("{") and '"sentinel.ml.pipeline"' in line:
            try:
                return dict(json.loads(line))
            except ValueError:
                continue
    raise PermanentError(f"the Ray job printed no pipeline summary; last output: {shorten(logs_text[-400:])}")


def ensure_awake(ctx: Context, cluster: str) -> None:
    """Wake-on-demand: a sleeping cluster is woken (through the sleep/wake playbook) before the job."""
    store = PowerStore(ctx.redis, cluster)
    if store.state().state in ("awake", "unknown"):
        return
    ctx.note("wake_on_demand", cluster=cluster, reason="retrain needs the cluster")
    store.record_intent("wake", event_id=f"{ctx.event.id}#wake", at=dt.datetime.now(dt.UTC),
                        meta={"requested_by": "sentinel/retrain"})
    power.converge(ctx, cluster)
    if store.state().state != "awake":
        raise TransientError(f"cluster {cluster} did not wake ({store.state().state}); retrain will retry")


def run(ctx: Context, data: RetrainData) -> Mapping[str, Any]:
    cfg = ctx.cfg
    cfg.cluster(data.cluster)  # unknown cluster: PermanentError
    if ctx.connect is None:
        raise PermanentError("no cloud adapters are wired into this worker")
    ensure_awake(ctx, data.cluster)
    store = PowerStore(ctx.redis, data.cluster)
    now = dt.datetime.now(dt.UTC)
    # Keep the cluster awake while the job runs: the running Ray job already defers a sleep; the lease also
    # covers the moments before the job is listed. Someone else's longer lease is left alone.
    mine = guards.Lease(now + dt.timedelta(seconds=cfg.ml.job_timeout), RETRAIN_LEASE, f"retrain {ctx.event.id}")
    held = store.lease()
    if held is None or held.until < mine.until:
        store.set_lease(mine, now=now)
    ad = ctx.connect(data.cluster)
    sid = submission_id(ctx.event.source, ctx.event.id)
    version = version_for(ctx.event.time, sid)
    ep = entrypoint(data, storage=cfg.ml.storage, version=version, trials=data.tune_trials or cfg.ml.tune_trials,
                    epochs=cfg.ml.epochs, workers=cfg.ml.num_workers, max_epochs=cfg.ml.tune_max_epochs)
    runtime_env = {"working_dir": cfg.ml.working_dir} if cfg.ml.working_dir else None
    try:
        got = ad.ray.submit(ep, submission_id=sid, runtime_env=runtime_env,
                            metadata={"correlation_id": ctx.event.correlation_id, "event_id": ctx.event.id,
                                      "sentinel": "retrain"})
        ctx.note("ray_job", cluster=data.cluster, submission_id=got, entrypoint=ep)
        status = follow(ad.ray, sid, timeout=cfg.ml.job_timeout)
        if status != "SUCCEEDED":
            raise PermanentError(f"Ray job {sid} ended {status}: {shorten(ad.ray.logs(sid)[-600:])}")
        summary = summary_of(ad.ray.logs(sid))
    finally:
        held = store.lease()
        if held is not None and held.requested_by == RETRAIN_LEASE:
            store.clear_lease()
    registered = str(summary.get("version") or version)
    ctx.note("model_registered", cluster=data.cluster, version=registered, rmse=summary.get("rmse"),
             compute_saved_pct=summary.get("compute_saved_pct"), trials=summary.get("trials"),
             submission_id=sid)
    deploy = cfg.ml.deploy_after_retrain if data.deploy is None else data.deploy
    if deploy:
        child = ctx.event.child(types.DEPLOY, {"cluster": data.cluster, "model_version": registered,
                                               "requested_by": "sentinel/retrain"}, id=f"deploy-{registered}")
        ctx.bus.publish(child)
    sleep_again(ctx, data.cluster)
    return {"cluster": data.cluster, "submission_id": sid, "version": registered, "rmse": summary.get("rmse"),
            "compute_saved_pct": summary.get("compute_saved_pct"), "deploy": bool(deploy)}


def follow(ray: Any, sid: str, *, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    status = "PENDING"
    while time.monotonic() < deadline:
        status = ray.status(sid)
        if status in TERMINAL:
            return str(status)
        time.sleep(POLL)
    raise TransientError(f"Ray job {sid} still {status} after {timeout:g}s")


def sleep_again(ctx: Context, cluster: str) -> None:
    """If the schedule says the cluster should be asleep now, it sleeps again after the idle period."""
    decision = schedules.desired_state(schedules.for_cluster(ctx.cfg, cluster), now=dt.datetime.now(dt.UTC))
    if decision is None or decision.action != "sleep" or ctx.later is None:
        return
    ev = ctx.event.child(types.SLEEP, {"cluster": cluster, "schedule": decision.schedule.name,
                                        "requested_by": "sentinel/retrain"}, id=f"{ctx.event.id}#idle-sleep")
    ctx.note("sleep_after_idle", cluster=cluster, delay_s=ctx.cfg.ml.idle_before_sleep,
             schedule=decision.schedule.name)
    ctx.later(ev, ctx.cfg.ml.idle_before_sleep)

"""``sentinel demo``: the main job on the embedded default, end to end, on this machine.

A private redis-server, the sandbox (moto + Kubernetes API emulator + simulated controllers), a real Celery worker
process and a local Ray head; then (1) a handful of events through the bus, a duplicate and a malformed one among
them; (2) the evening schedule puts the cluster to sleep and the morning schedule wakes it, every size back; (3) a
retrain event → a Ray job (Ray Train, then Ray Tune with ASHA) → a model version → deployed with Ray Serve →
``POST /recommend`` answered by the new version; (4) `sentinel status` and `sentinel report cost`.
Exit non-zero if any step fails.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Annotated, Any

import redis
import typer
import yaml

from sentinel import config as config_mod
from sentinel.cli.main import app
from sentinel.errors import PermanentError
from sentinel.events import envelope, schedules, types
from sentinel.localstack.redis_server import RedisServer
from sentinel.ops.powerstate import PowerStore
from sentinel.workers import runtime

SHOWN = {"accepted", "duplicate", "rejected", "succeeded", "retried", "dead_lettered", "deferred", "snapshot",
         "step", "transition", "superseded", "ray_job", "model_registered", "deployed", "rolled_back",
         "wake_on_demand"}


class DemoFailed(Exception):
    pass


def say(text: str = "") -> None:
    typer.echo(text)


def headline(text: str) -> None:
    say()
    say(f"== {text} " + "=" * max(0, 74 - len(text)))


def fmt(rec: Any) -> str:
    f = rec.fields
    k = rec.kind
    if k == "step":
        extra = f"{f.get('step')} {f.get('target')}"
        if "desired" in f:
            extra += f": {f.get('current')} → {f.get('desired')}"
        elif "ready" in f:
            extra += f": {f.get('ready')} Ready"
    elif k == "transition":
        extra = f"cluster {f.get('cluster')} is now {f.get('state')}"
    elif k == "snapshot":
        extra = f"sizes remembered (version {f.get('version')})"
    elif k == "ray_job":
        extra = f"submitted {f.get('submission_id')}: {f.get('entrypoint', '')[:60]}…"
    elif k == "model_registered":
        extra = f"version {f.get('version')} (RMSE {f.get('rmse')}, ASHA saved {f.get('compute_saved_pct')}%)"
    elif k == "deployed":
        extra = f"serving {f.get('version')} (was {f.get('previous')})"
    elif k in ("rejected", "deferred", "dead_lettered", "retried", "rolled_back", "wake_on_demand"):
        extra = f.get("reason", "")
    else:
        extra = f.get("type", "")
    return f"  {rec.at:%H:%M:%S} {k:<13} {f.get('event_id', '-')[:40]:<40} {extra}"


@contextmanager
def tail(client: redis.Redis, stream: str) -> Iterator[None]:
    """Print audit records as they are written."""
    stop = threading.Event()

    def run() -> None:
        from sentinel.events.audit import parse_record

        last = "$"
        while not stop.is_set():
            with suppress(redis.RedisError):
                rows: Any = client.xread({stream: last}, block=200, count=100)
                for _, entries in rows or []:
                    for entry_id, raw in entries:
                        last = entry_id
                        rec = parse_record(entry_id, raw)
                        if rec.kind in SHOWN:
                            say(fmt(rec))

    t = threading.Thread(target=run, daemon=True)
    t.start()
    try:
        yield
    finally:
        time.sleep(0.3)
        stop.set()
        t.join(2)


def wait(predicate: Callable[[], bool], *, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise DemoFailed(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(0.1)


def cli(args: list[str], env: dict[str, str], cfg_file: Path) -> str:
    out = subprocess.run([sys.executable, "-m", "sentinel", "--config", str(cfg_file), *args], env=env,
                         capture_output=True, text=True, timeout=120)
    if out.returncode != 0:
        raise DemoFailed(f"sentinel {' '.join(args)} failed ({out.returncode}): {out.stderr.strip()[-500:]}")
    return out.stdout


def part_events(rt: runtime.Runtime) -> None:
    headline("1. events through the bus: validate → dedup → audit → a real Celery worker")
    events = [envelope.Event(id=f"demo-{i}", source="sentinel/demo", type=types.NOOP,
                             data={"message": f"hello {i}", "key": f"demo-{i}"}) for i in range(3)]
    events.append(events[0])  # the same event again: a duplicate
    for ev in events:
        say(f"  publish {ev.id}: {rt.bus.publish(ev).status}")
    bad = envelope.Event(id="demo-bad", source="sentinel/demo", type=types.SLEEP, data={"cluster": "no such one!"})
    try:
        rt.bus.publish(bad)
        raise DemoFailed("a malformed event was accepted")
    except PermanentError as e:
        say(f"  publish demo-bad: refused: {e}")
    wait(lambda: sum(r.kind == "succeeded" for r in rt.audit.read(limit=100)) >= 3, timeout=60,
         what="the worker to handle the events")
    counts: dict[str, int] = {}
    for r in rt.audit.read(limit=100):
        counts[r.kind] = counts.get(r.kind, 0) + 1
    say(f"  audit: {', '.join(f'{k} {v}' for k, v in sorted(counts.items()))}")
    if counts.get("duplicate") != 1 or counts.get("rejected") != 1 or counts.get("succeeded") != 3:
        raise DemoFailed(f"unexpected audit counts {counts}")


def sizes_of(rt: runtime.Runtime, cluster: str) -> tuple[dict[str, tuple[int, int, int]], dict[str, int]]:
    ad = rt.connect(cluster)
    c = rt.cfg.cluster(cluster)
    ngs = {n: ad.nodegroups.describe(n).sizes for n in c.nodegroups}
    deps = {ref: ad.kube.deployment(ref).replicas for ref in c.system_deployments}
    return ngs, deps


def part_sleep_wake(rt: runtime.Runtime, cluster: str) -> None:
    cfg = rt.cfg
    store = PowerStore(rt.client, cluster)
    sleep_s = next(s for s in cfg.schedules if s.cluster == cluster and s.action == "sleep")
    wake_s = next(s for s in cfg.schedules if s.cluster == cluster and s.action == "wake")
    now = dt.datetime.now(dt.UTC)
    before = sizes_of(rt, cluster)
    headline(f"2. the evening schedule fires: {sleep_s.name} ({sleep_s.cron}, {sleep_s.timezone})")
    say(f"  awake sizes: node groups {before[0]}, deployments {before[1]}")
    fire = schedules.last_fire(sleep_s, at_or_before=now) or now
    rt.bus.publish(schedules.make_event(sleep_s, fire))
    wait(lambda: store.state().state == "asleep" and store.pending() is None, timeout=180, what="the cluster asleep")
    asleep = sizes_of(rt, cluster)
    say(f"  asleep: node groups {asleep[0]}, deployments {asleep[1]}")
    if any(s[1] for s in asleep[0].values()) or any(asleep[1].values()):
        raise DemoFailed(f"not everything went to zero: {asleep}")
    headline(f"3. the morning schedule fires: {wake_s.name} ({wake_s.cron}, {wake_s.timezone})")
    fire = schedules.next_fire(wake_s, after=now) or now
    rt.bus.publish(schedules.make_event(wake_s, fire))
    wait(lambda: store.state().state == "awake" and store.pending() is None, timeout=240, what="the cluster awake")
    after = sizes_of(rt, cluster)
    say(f"  awake again: node groups {after[0]}, deployments {after[1]}")
    if after != before:
        raise DemoFailed(f"sizes did not come back: before {before}, after {after}")


def part_retrain(rt: runtime.Runtime, cluster: str, serve_url: str) -> None:
    headline("4. new data: sentinel.retrain.requested → Ray Train → Ray Tune (ASHA) → Ray Serve")
    ev = envelope.Event(id="demo-retrain-1", source="sentinel/demo", type=types.RETRAIN, subject=cluster,
                        data={"cluster": cluster, "requested_by": "demo"})
    say(f"  publish {ev.id}: {rt.bus.publish(ev).status} (the pipeline runs as one Ray job; a few minutes)")

    def seen(kind: str) -> Any:
        return next((r for r in rt.audit.read(limit=300, event_id=ev.id) if r.kind == kind), None)

    def failed() -> bool:
        return seen("dead_lettered") is not None

    wait(lambda: seen("model_registered") is not None or failed(), timeout=900, what="the model to be registered")
    if failed():
        raise DemoFailed(f"retrain failed: {seen('dead_lettered').fields.get('reason')}")
    reg = seen("model_registered").fields
    say(f"  model {reg['version']}: RMSE {float(reg['rmse']):.3f}, ASHA saved {reg.get('compute_saved_pct')}% of the "
        f"tuning compute over {reg.get('trials')} trials")
    wait(lambda: seen("deployed") is not None or failed(), timeout=600, what="the deploy")
    if failed():
        raise DemoFailed(f"deploy failed: {seen('dead_lettered').fields.get('reason')}")
    body = {"user_id": 42, "movie_ids": [100, 200, 300]}
    import httpx

    r = httpx.post(f"{serve_url}/recommend", json=body, timeout=30)
    say(f"  POST /recommend {body} → {r.status_code} {r.text[:300]}")
    if r.status_code != 200 or r.json().get("model_version") != reg["version"]:
        raise DemoFailed(f"/recommend did not answer with {reg['version']}")


@app.command()
def demo(
    time_scale: Annotated[float, typer.Option(help="cluster seconds per real second (a node boots in 90 s)")] = 45.0,
    workdir: Annotated[Path, typer.Option(help="where the demo keeps its files")] = Path(".work/demo"),
    ml: Annotated[bool, typer.Option(help="also run the retrain story on a local Ray head")] = True,
) -> None:
    """Run the main job on the embedded default: the event loop, then the sleep → wake story on the sandbox."""
    from sentinel.sandbox import Sandbox  # the CLI is the one layer allowed to start the sandbox

    workdir = workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    cfg = config_mod.from_mapping(yaml.safe_load(config_mod.EMBEDDED), source="<embedded default>", env={})
    cluster = next(iter(cfg.clusters))
    server = RedisServer.start(workdir / "redis")
    worker: subprocess.Popen[bytes] | None = None
    head: Any = None
    sb = Sandbox(cfg, workdir=workdir / "sandbox", time_scale=time_scale)
    failed = False
    try:
        say(f"redis-server on {server.url}; starting the sandbox (time x{time_scale:g}) …")
        sb.start()
        ray_env: dict[str, str] = {}
        if ml:
            from sentinel.localstack import ray_head

            say("starting a local Ray head (Jobs API, Serve) …")
            head = ray_head.start("demo", workdir=workdir)
            ray_env = {**head.env, "SENTINEL_RAY_DASHBOARD": head.dashboard_url, "SENTINEL_RAY_SERVE": head.serve_url}
            say(f"  Ray dashboard {head.dashboard_url}, Serve {head.serve_url}")
        doc = yaml.safe_load(config_mod.EMBEDDED) | {
            "redis_url": server.url, "task_time_limit": "20m",
            "ml": {"storage": str(workdir / "models"), "num_workers": 2, "epochs": 2, "tune_trials": 6,
                   "tune_max_epochs": 4, "deploy_timeout": "5m"},
        }
        cfg_file = workdir / "sentinel.yaml"
        cfg_file.write_text(yaml.safe_dump(doc))
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SENTINEL_", "AWS_", "KUBECONFIG"))}
        env |= sb.env | {"SENTINEL_REDIS_URL": server.url, "SENTINEL_RAY_DASHBOARD": "http://127.0.0.1:9",
                         "SENTINEL_LOG_LEVEL": "WARNING"} | ray_env
        log = (workdir / "worker.log").open("wb")
        worker = subprocess.Popen([sys.executable, "-m", "sentinel", "--config", str(cfg_file), "worker",
                                   "--concurrency=2"], env=env, stdout=log, stderr=subprocess.STDOUT,
                                  start_new_session=True)
        say(f"worker pid {worker.pid} (log: {workdir / 'worker.log'})")
        rt = runtime.build(config_mod.load(cfg_file, env={}), env=env)
        with tail(redis.Redis.from_url(server.url), rt.audit.stream):
            part_events(rt)
            part_sleep_wake(rt, cluster)
            if head is not None:
                part_retrain(rt, cluster, head.serve_url)
        headline("5. sentinel status")
        say(cli(["status", cluster], env, cfg_file).rstrip())
        headline("6. sentinel report cost")
        say(cli(["report", "cost", "--since", "1h"], env, cfg_file).rstrip())
        say()
        say("demo: every step succeeded")
    except (DemoFailed, PermanentError) as e:
        failed = True
        say(f"demo FAILED: {e}")
    finally:
        if worker is not None and worker.poll() is None:
            with suppress(ProcessLookupError):
                os.killpg(worker.pid, signal.SIGTERM)
            try:
                worker.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(worker.pid, signal.SIGKILL)
        if head is not None:
            from sentinel.localstack import ray_head

            ray_head.stop(head)
        sb.stop()
        server.stop()
    if failed:
        raise typer.Exit(1)

"""Sleep and wake end to end, against the floor the cluster itself sets (node boot and drain), in one run.

A private redis-server, one real ``sentinel worker`` process and the sandbox (moto EKS + Kubernetes API emulator +
simulated nodes) whose nodes take ``--boot`` (B) cluster seconds to turn Ready and ``--drain`` (D) to go, at
``--time-scale`` cluster seconds per real second. Each repetition publishes a sleep through the bus and times it to
power state ``asleep`` (nothing pending), then a wake to ``awake``. A wake cannot beat B, a sleep cannot beat D:
those are the baselines. What Sentinel adds (Celery hand-off, lock, snapshot, the EKS and Kubernetes calls, the
watches, the audit) is printed as a ratio measured/baseline and as overhead: in wall seconds (Sentinel's calls
do not shrink with the time scale, so that is what a real cluster sees; target <= 2 s) and on the sandbox's clock.

    .venv/bin/python bench/wake.py [--boot 90] [--drain 30] [--time-scale 90] [--reps 5]
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import yaml

from sentinel import config, logs
from sentinel.events import envelope, types
from sentinel.localstack.redis_server import RedisServer
from sentinel.ops.powerstate import PowerStore
from sentinel.sandbox import Sandbox
from sentinel.workers import runtime
from tests.fixtures.redis import ROOT, Workers, write_config

CLUSTER = "training"
CLOSED_PORT = "http://127.0.0.1:9"  # no Ray head: the sleep guard asks Kubernetes for RayJobs instead
TARGET_S = 2.0


def wait_state(store: PowerStore, state: str, *, timeout: float) -> float:
    """Poll Redis (every 5 ms) until the cluster is in ``state`` with nothing pending; the monotonic time then."""
    deadline = time.monotonic() + timeout
    while True:
        if store.state().state == state and store.pending() is None:
            return time.monotonic()
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {state!r} (now {store.state().state!r})")
        time.sleep(0.005)


def one_way(rt: runtime.Runtime, store: PowerStore, action: str, *, timeout: float) -> float:
    """Real seconds from ``bus.publish`` of ``action`` to its end state."""
    event = envelope.Event(source="bench/wake", type=types.SLEEP if action == "sleep" else types.WAKE,
                           subject=CLUSTER, data={"cluster": CLUSTER, "requested_by": "bench"})
    t0 = time.monotonic()
    assert rt.bus.publish(event).accepted
    return wait_state(store, "asleep" if action == "sleep" else "awake", timeout=timeout) - t0


def summary(name: str, runs: list[float], *, floor: str, floor_cluster_s: float, scale: float) -> str:
    """Sentinel's own work (Celery, Redis, the EKS/Kubernetes calls, the watches) runs in wall time: it does not
    shrink with the sandbox's time scale, so the wall overhead is what a real cluster sees. Multiplied by the
    scale it is the same overhead as the sandbox's compressed clock counts it."""
    base = floor_cluster_s / scale
    median = statistics.median(runs)
    over = median - base
    ok = "ok" if over <= TARGET_S else "ABOVE TARGET"
    return (f"summary {name}: median {median * 1000:.0f} ms vs floor {floor}={floor_cluster_s:g} s cluster = "
            f"{base * 1000:.0f} ms at x{scale:g}: ratio {median / base:.2f}; Sentinel adds {over * 1000:+.0f} ms "
            f"wall = {over:+.2f} s on a real cluster (target <= {TARGET_S:g} s: {ok}), {over * scale:+.1f} s on "
            f"the sandbox's x{scale:g} clock; min {min(runs) * 1000:.0f} / max {max(runs) * 1000:.0f} ms, "
            f"{len(runs)} reps")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--boot", type=float, default=90.0, help="node boot delay, cluster seconds (B)")
    ap.add_argument("--drain", type=float, default=30.0, help="node drain delay, cluster seconds (D)")
    ap.add_argument("--time-scale", type=float, default=90.0, help="cluster seconds per real second")
    ap.add_argument("--reps", type=int, default=5)
    args = ap.parse_args()
    scale = args.time_scale
    logs.configure("WARNING", stream=io.StringIO())  # the audit's log lines are work, not output
    timeout = 30 + (args.boot + args.drain) / scale * 4
    cfg = config.from_mapping(yaml.safe_load(config.EMBEDDED), source="<embedded default>", env={})
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        server = RedisServer.start(tmp / "redis")
        workers: Workers | None = None
        try:
            with Sandbox(cfg, workdir=tmp / "sandbox", time_scale=scale, boot_delay=args.boot,
                         drain_delay=args.drain) as sb:
                cfg_file = write_config(tmp, server.url, task_time_limit=max(30, int(timeout)),
                                        visibility_timeout=max(40, int(timeout) + 10))
                env = {k: v for k, v in os.environ.items() if not k.startswith("SENTINEL_")}
                env.update({**sb.env, "SENTINEL_REDIS_URL": server.url, "SENTINEL_RAY_DASHBOARD": CLOSED_PORT,
                            "PYTHONPATH": str(ROOT), "SENTINEL_LOG_LEVEL": "WARNING"})
                workers = Workers(tmp, cfg_file, env)
                workers.start(concurrency=1)
                rt = runtime.build(config.load(cfg_file, env={}), env={})
                store = PowerStore(rt.client, CLUSTER)
                # warm-up cycle, not counted: the worker's imports, connections and first EKS/Kubernetes clients
                one_way(rt, store, "sleep", timeout=timeout + 60)
                one_way(rt, store, "wake", timeout=timeout)
                sleeps, wakes = [], []
                for _ in range(args.reps):
                    sleeps.append(one_way(rt, store, "sleep", timeout=timeout))
                    wakes.append(one_way(rt, store, "wake", timeout=timeout))
                rt.client.close()
        finally:
            if workers is not None:
                workers.stop_all()
            server.stop()
    print(f"sentinel sleep/wake via redis-server + 1 worker process + sandbox; B={args.boot:g} s, "
          f"D={args.drain:g} s cluster time, x{scale:g}, {args.reps} reps (+1 warm-up)")
    print(f"wake  (ms): {' '.join(f'{w * 1000:.0f}' for w in wakes)}")
    print(f"sleep (ms): {' '.join(f'{s * 1000:.0f}' for s in sleeps)}")
    print(summary("wake", wakes, floor="B", floor_cluster_s=args.boot, scale=scale))
    print(summary("sleep", sleeps, floor="D", floor_cluster_s=args.drain, scale=scale))


if __name__ == "__main__":
    main()

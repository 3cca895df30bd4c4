"""Sentinel's bus against raw Celery, on the same private redis-server, in one run.

(a) raw Celery: ``apply_async`` of a registered no-op task (results ignored, as Sentinel's are);
(b) Sentinel: ``bus.publish`` of distinct events to a no-op playbook (validate → dedup → audit → enqueue, and
the worker's audit records). Each side gets a fresh worker
(prefork, same concurrency) whose handler notes the time it started.

Throughput: N events published in a burst, time from the first publish to the last handler start.
Latency: M events paced well below capacity, publish → handler start, p50/p99.

The two sides alternate for ``--rounds`` rounds (a, b, a, b, …) and the medians are compared: on a shared 2-core
machine one round of either can be off by 30 %.

    python bench/event_bus.py [--n 5000] [--m 500] [--concurrency 2] [--rounds 3]
"""

from __future__ import annotations

import argparse
import io
import multiprocessing as mp
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import redis

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sentinel import config, logs
from sentinel.events import envelope, types
from sentinel.localstack.redis_server import RedisServer
from sentinel.workers import handlers, runtime
from sentinel.workers.app import make_app

STARTS = "bench:starts"


def _cfg(url: str) -> config.Config:
    return config.from_mapping({"redis_url": url}, env={})


def raw_app(url: str) -> Any:
    app = make_app(_cfg(url))  # same broker settings (acks_late, prefetch 1, JSON)
    client = redis.Redis.from_url(url)

    @app.task(name="bench.raw_noop", queue="events", acks_late=True)
    def raw_noop(token: str) -> None:
        client.rpush(STARTS, f"{token} {time.time()}")

    return app


def _sentinel_handler(ctx: Any, data: Any) -> dict[str, Any]:
    ctx.redis.rpush(STARTS, f"{data.message} {time.time()}")
    return {}


def run_worker(kind: str, url: str, concurrency: int) -> None:
    logs.configure("WARNING", stream=io.StringIO())
    sys.stdout = sys.stderr = open(os.devnull, "w")  # noqa: SIM115
    if kind == "raw":
        app = raw_app(url)
    else:
        rt = runtime.install(runtime.build(_cfg(url)))
        logs.configure("INFO", stream=open(os.devnull, "w"))  # noqa: SIM115  (the audit log lines are real work)
        handlers.register(types.NOOP, _sentinel_handler)
        app = rt.app
    app.worker_main(
        ["worker", "--queues=events", f"--concurrency={concurrency}", "--pool=prefork", "--without-gossip",
         "--without-mingle", "--without-heartbeat", "--loglevel=ERROR"]
    )


def collect(client: redis.Redis, n: int, timeout: float = 300) -> dict[str, float]:
    deadline = time.monotonic() + timeout
    while client.llen(STARTS) < n:
        if time.monotonic() > deadline:
            raise SystemExit(f"only {client.llen(STARTS)} of {n} handlers started")
        time.sleep(0.02)
    out = {}
    for row in client.lrange(STARTS, 0, -1):
        token, t = row.decode().split()
        out[token] = float(t)
    return out


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, round(p / 100 * (len(s) - 1)))]


def side(kind: str, url: str, *, n: int, m: int, concurrency: int) -> dict[str, float]:
    client = redis.Redis.from_url(url)
    client.flushall()
    proc = mp.get_context("fork").Process(target=run_worker, args=(kind, url, concurrency), daemon=True)
    proc.start()
    logs.configure("INFO", stream=open(os.devnull, "w"))  # noqa: SIM115
    if kind == "raw":
        app = raw_app(url)
        raw_noop = app.tasks["bench.raw_noop"]

        def publish(token: str) -> None:
            raw_noop.apply_async(args=[token])
    else:
        rt = runtime.build(_cfg(url))

        def publish(token: str) -> None:
            rt.bus.publish(envelope.Event(id=token, source="bench", type=types.NOOP, data={"message": token}))

    # warm up: worker ready, connections open
    publish("warm")
    collect(client, 1, timeout=60)
    client.delete(STARTS)

    t0 = time.time()
    for i in range(n):
        publish(f"t{i}")
    publish_s = time.time() - t0
    starts = collect(client, n)
    total = max(starts.values()) - t0
    client.delete(STARTS)

    sent: dict[str, float] = {}
    for i in range(m):
        tok = f"l{i}"
        sent[tok] = time.time()
        publish(tok)
        time.sleep(0.005)
    starts = collect(client, m)
    lat = [(starts[k] - sent[k]) * 1000 for k in sent]
    proc.terminate()
    proc.join(10)
    if proc.is_alive():
        proc.kill()
    return {
        "events_per_s": n / total,
        "publish_per_s": n / publish_s,
        "p50_ms": statistics.median(lat),
        "p99_ms": pct(lat, 99),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=5000)
    ap.add_argument("--m", type=int, default=500)
    ap.add_argument("--concurrency", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    runs: dict[str, list[dict[str, float]]] = {"raw": [], "sentinel": []}
    with tempfile.TemporaryDirectory() as tmp:
        server = RedisServer.start(Path(tmp))
        try:
            for _ in range(args.rounds):
                for kind in ("raw", "sentinel"):
                    runs[kind].append(side(kind, server.url, n=args.n, m=args.m, concurrency=args.concurrency))
        finally:
            server.stop()
    med = {k: {f: statistics.median(r[f] for r in rs) for f in rs[0]} for k, rs in runs.items()}
    a, b = med["raw"], med["sentinel"]
    print(f"{'(medians of ' + str(args.rounds) + ' rounds)':24}{'events/s':>10}{'publish/s':>11}{'p50 ms':>9}"
          f"{'p99 ms':>9}")
    for name, r in (("(a) raw Celery", a), ("(b) Sentinel bus", b)):
        print(f"{name:24}{r['events_per_s']:>10.0f}{r['publish_per_s']:>11.0f}{r['p50_ms']:>9.2f}{r['p99_ms']:>9.2f}")
    ratios = [rb["events_per_s"] / ra["events_per_s"] for ra, rb in zip(runs["raw"], runs["sentinel"], strict=True)]
    ratio = b["events_per_s"] / a["events_per_s"]
    overhead = b["p99_ms"] - a["p99_ms"]
    print(f"summary: ratio b/a = {ratio:.2f} (per round {', '.join(f'{x:.2f}' for x in ratios)}; target >= 0.8); "
          f"p99 overhead = {overhead:+.2f} ms (target <= 2 ms); N={args.n}, M={args.m}, concurrency={args.concurrency}")


if __name__ == "__main__":
    main()

"""ML bench: each comparison side by side in one run, one summary line per part.

    .venv/bin/python bench/ml.py [--only tune|train|serve] [--trials 48] [--requests 800]

* tune  — ASHA vs FIFO over the same sampled configs: compute saved % and best RMSE of each.
* train — samples/s of the Ray Train loop (2 DDP workers) vs a plain single-process PyTorch loop.
* serve — /recommend req/s, p50/p99 under 8 concurrent clients: Ray Serve vs plain FastAPI+uvicorn.

Starts its own Ray head (tests/fixtures/ray_head.py) on free loopback ports and stops exactly it.
"""

# No `from __future__ import annotations`: FastAPI must see the real RecommendRequest class in plain_server.

import argparse
import concurrent.futures as cf
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sentinel.ml import data, fitting, model, runtime, scoring  # noqa: E402


def bench_tune(trials: int, workdir: str) -> str:
    from sentinel.ml import tune as tune_mod

    syn = data.synthetic(500, 300, seed=1)
    split = data.split(data.encode(syn.ratings), val_fraction=0.1)
    search = tune_mod.Search(trials=trials)
    out = {}
    for kind in ("asha", "fifo"):
        out[kind] = tune_mod.run_tuning(
            split, storage_uri=workdir, version=f"bench-{kind}", search=search, scheduler=kind
        )
    a, f = out["asha"], out["fifo"]
    gap = 100 * (a.best_rmse / f.best_rmse - 1)
    return (
        f"tune: {trials} trials, max {search.max_epochs} epochs, ASHA(grace={search.grace_period}, "
        f"rf={search.reduction_factor:g}) | ASHA epochs={a.epochs_run}/{a.budget} saved={a.compute_saved_pct:.1f}% "
        f"best_rmse={a.best_rmse:.4f} wall={a.wall_s:.0f}s | FIFO epochs={f.epochs_run}/{f.budget} "
        f"saved={f.compute_saved_pct:.1f}% best_rmse={f.best_rmse:.4f} wall={f.wall_s:.0f}s | "
        f"ASHA best vs FIFO best {gap:+.2f}% (noise floor {syn.noise_std})"
    )


def plain_samples_per_s(split: data.Split, *, epochs: int, threads: int, batch_size: int) -> float:
    from sentinel.ml import train as train_mod

    model.set_threads(threads)
    hp = train_mod.Hyper()
    mf = model.build(split.train, dim=hp.dim)
    opt = fitting.optimizer(mf, lr=hp.lr)
    shard = fitting.to_shard(split.train)
    secs = 0.0
    for epoch in range(epochs):
        fitting.set_epoch_lr(opt, lr=hp.lr, decay=hp.lr_decay, epoch=epoch)
        order = fitting.epoch_order(len(shard), epoch=epoch, seed=0)
        t0 = time.perf_counter()
        fitting.train_epoch(mf, opt, shard, order=order, batch_size=batch_size, weight_decay=hp.weight_decay)
        secs += time.perf_counter() - t0
    return epochs * len(shard) / secs


def bench_train(workdir: str) -> str:
    from sentinel.ml import train as train_mod

    syn = data.synthetic(2000, 1000, density=0.05, seed=2)
    split = data.split(data.encode(syn.ratings), val_fraction=0.1)
    epochs, batch = 3, 256
    res = train_mod.run_training(
        split, storage_uri=workdir, version="bench-train", num_workers=2,
        hyper=train_mod.Hyper(epochs=epochs, batch_size=batch),
    )  # fmt: skip
    p1 = plain_samples_per_s(split, epochs=epochs, threads=1, batch_size=batch)
    p2 = plain_samples_per_s(split, epochs=epochs, threads=2, batch_size=batch)
    return (
        f"train: {len(split.train)} rows x {epochs} epochs, batch {batch}/worker | Ray Train 2 workers (DDP, gloo): "
        f"{res.samples_per_s:,.0f} samples/s in-loop, fit() wall {res.wall_s:.0f}s, rmse={res.rmse:.4f} | "
        f"plain PyTorch 1 proc: {p1:,.0f} samples/s (1 thread), {p2:,.0f} samples/s (2 threads) | "
        f"Ray/plain(1t) = {res.samples_per_s / p1:.2f}x"
    )


# ---------------------------------------------------------------- serve


def plain_server(model_path: str, port: int) -> None:
    """The baseline: the same model and scoring function behind plain FastAPI + uvicorn, one process."""
    import uvicorn
    from fastapi import FastAPI

    from sentinel.ml.serve import RecommendRequest, RecommendResponse

    weights = scoring.from_bundle(model.load(model_path), version="bench")
    api = FastAPI()

    @api.post("/recommend", response_model=RecommendResponse)
    def recommend(body: RecommendRequest) -> dict[str, Any]:
        q = scoring.Query(body.user_id, None if body.movie_ids is None else tuple(body.movie_ids), body.k)
        return scoring.as_json(scoring.score(weights, q))

    uvicorn.run(api, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def load(url: str, bodies: list[dict[str, Any]], *, clients: int = 8) -> tuple[float, float, float, int]:
    import httpx

    def worker(chunk: list[dict[str, Any]]) -> tuple[list[float], int]:
        lat, bad = [], 0
        with httpx.Client(timeout=30) as c:
            for b in chunk:
                t0 = time.perf_counter()
                r = c.post(url, json=b)
                lat.append(time.perf_counter() - t0)
                bad += r.status_code != 200
        return lat, bad

    chunks = [bodies[i::clients] for i in range(clients)]
    t0 = time.perf_counter()
    with cf.ThreadPoolExecutor(clients) as pool:
        results = list(pool.map(worker, chunks))
    wall = time.perf_counter() - t0
    lat = sorted(x for r in results for x in r[0])
    errors = sum(r[1] for r in results)
    p99 = lat[min(len(lat) - 1, int(0.99 * len(lat)))]
    return len(lat) / wall, statistics.median(lat) * 1000, p99 * 1000, errors


def _wait_http(url: str, timeout: float = 60) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise TimeoutError(url)


def bench_serve(head: Any, n_requests: int, workdir: str) -> str:
    import numpy as np
    from ray import serve

    from sentinel.localstack.ports import free_port
    from sentinel.ml import serve as serve_mod

    syn = data.synthetic(2000, 1000, density=0.05, seed=3)
    split = data.split(data.encode(syn.ratings), val_fraction=0.1)
    mf = model.build(split.train, dim=32)
    path = os.path.join(workdir, "model.pt")
    model.save(model.bundle(mf, split.train), path)
    rng = np.random.default_rng(0)
    users, items = split.train.user_ids, split.train.item_ids
    bodies = [
        {"user_id": int(rng.choice(users)), "movie_ids": [int(m) for m in rng.choice(items, 20)]}
        if i % 2 else {"user_id": int(rng.choice(users)), "k": 10}
        for i in range(n_requests)
    ]  # fmt: skip
    warm = bodies[:50]

    serve.run(serve_mod.app(serve_mod.AppArgs(model_path=path, version="bench")), name="bench", route_prefix="/bench")
    try:
        url = f"{head.serve_url}/bench/recommend"
        load(url, warm)
        ray_rps, ray_p50, ray_p99, ray_err = load(url, bodies)
    finally:
        serve.delete("bench")

    port = free_port()
    proc = subprocess.Popen([sys.executable, __file__, "--plain-server", path, "--port", str(port)], cwd=REPO)
    try:
        _wait_http(f"http://127.0.0.1:{port}/docs")
        url = f"http://127.0.0.1:{port}/recommend"
        load(url, warm)
        fa_rps, fa_p50, fa_p99, fa_err = load(url, bodies)
    finally:
        proc.terminate()
        proc.wait(10)
    return (
        f"serve: {n_requests} POST /recommend, 8 concurrent clients, {len(items)} items | "
        f"Ray Serve (1 replica, @serve.batch): {ray_rps:.0f} req/s p50={ray_p50:.1f}ms p99={ray_p99:.1f}ms "
        f"errors={ray_err} | plain FastAPI+uvicorn: {fa_rps:.0f} req/s p50={fa_p50:.1f}ms p99={fa_p99:.1f}ms "
        f"errors={fa_err} | Serve/plain = {ray_rps / fa_rps:.2f}x req/s"
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="bench/ml.py")
    p.add_argument("--only", choices=["tune", "train", "serve"], action="append")
    p.add_argument("--trials", type=int, default=48)
    p.add_argument("--requests", type=int, default=800)
    p.add_argument("--plain-server", metavar="MODEL", help=argparse.SUPPRESS)
    p.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.plain_server:
        plain_server(args.plain_server, args.port)
        return 0
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    os.environ.setdefault("RAY_USAGE_STATS_REPORT_URL", "http://127.0.0.1:9/")
    import ray

    from tests.fixtures import ray_head

    parts = args.only or ["tune", "train", "serve"]
    head = ray_head.start(f"b{os.getpid()}")
    lines = []
    try:
        ray.init(address=head.address, log_to_driver=False)
        with tempfile.TemporaryDirectory(dir=REPO / ".ray") as work:
            for part in parts:
                t0 = time.monotonic()
                with runtime.stdout_to_stderr():  # Tune's tables and Ray's logs: stderr; the summary: stdout
                    if part == "tune":
                        line = bench_tune(args.trials, os.path.join(work, "tune"))
                    elif part == "train":
                        line = bench_train(os.path.join(work, "train"))
                    else:
                        line = bench_serve(head, args.requests, work)
                lines.append(f"{line} [{time.monotonic() - t0:.0f}s]")
                print(lines[-1], file=sys.stderr, flush=True)
    finally:
        ray.shutdown()
        ray_head.stop(head)
        shutil.rmtree(head.temp_dir, ignore_errors=True)
    print("\n".join(lines))
    print(json.dumps({"parts": parts}), file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

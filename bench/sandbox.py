"""Benchmark the sandbox's Kubernetes API: GET and PATCH through the official client, first 100 vs last 100.

    .venv/bin/python bench/sandbox.py [--requests 2000]

The server must not slow down as it runs (history is bounded): the printed last/first ratios should be ~1.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import yaml
from kubernetes import client
from kubernetes import config as kube_config

from sentinel import config
from sentinel.sandbox import Sandbox


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=2000, help="requests per operation")
    args = ap.parse_args()
    cfg = config.from_mapping(yaml.safe_load(config.EMBEDDED), source="<embedded default>", env={})
    with tempfile.TemporaryDirectory() as tmp, Sandbox(cfg, workdir=Path(tmp), time_scale=90) as sb:
        apps = client.AppsV1Api(kube_config.new_client_from_config(config_file=str(sb.kubeconfig)))
        timings: dict[str, list[float]] = {"GET": [], "PATCH": []}
        for i in range(args.requests):
            t = time.perf_counter()
            apps.read_namespaced_deployment("coredns", "kube-system")
            timings["GET"].append(time.perf_counter() - t)
            t = time.perf_counter()
            apps.patch_namespaced_deployment(
                "coredns", "kube-system", {"metadata": {"annotations": {"bench/i": str(i)}}}
            )
            timings["PATCH"].append(time.perf_counter() - t)
        rv = sb.store.resource_version
    print(f"sandbox Kubernetes API, official client, {args.requests} requests per op (resourceVersion reached {rv})")
    print(
        f"{'op':<6} {'p50 all':>9} {'p99 all':>9} {'p50 first':>10} {'p50 last':>9} {'p99 first':>10} "
        f"{'p99 last':>9} {'last/first p50':>15} {'last/first p99':>15}"
    )
    for op, ts in timings.items():
        first, last = ts[:100], ts[-100:]
        ms = [
            1000 * pct(x, q) for x, q in ((ts, 0.5), (ts, 0.99), (first, 0.5), (last, 0.5), (first, 0.99), (last, 0.99))
        ]
        print(
            f"{op:<6} {ms[0]:>7.2f}ms {ms[1]:>7.2f}ms {ms[2]:>8.2f}ms {ms[3]:>7.2f}ms {ms[4]:>8.2f}ms "
            f"{ms[5]:>7.2f}ms {ms[3] / ms[2]:>15.2f} {ms[5] / ms[4]:>15.2f}"
        )
    means = {op: 1000 * statistics.mean(ts) for op, ts in timings.items()}
    print(f"mean GET {means['GET']:.2f}ms, mean PATCH {means['PATCH']:.2f}ms")


if __name__ == "__main__":
    main()

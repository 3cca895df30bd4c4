"""``sentinel status`` and ``sentinel plan`` as real processes against the sandbox (moto EKS + Kubernetes API)
and a real redis-server: the live sizes come back through the real adapters, and ``plan`` changes nothing."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import redis

from sentinel.sandbox import Sandbox
from tests.fixtures.redis import ROOT, write_config
from tests.fixtures.sandbox import aws_client, subprocess_env

AWAKE = {"managed-ng-1": {"min": 2, "desired": 2, "max": 4}, "worker-group-spot-1": {"min": 0, "desired": 1, "max": 5}}


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Cli:
    def __init__(self, sb: Sandbox, redis_url: str, tmp: Path) -> None:
        self.config = write_config(tmp, redis_url)
        base = {k: v for k, v in os.environ.items() if not k.startswith("SENTINEL_")}
        self.env = subprocess_env(sb, base) | {
            "SENTINEL_REDIS_URL": redis_url,
            "PYTHONPATH": str(ROOT),
            # no Ray head in the sandbox: a port where nothing listens, whatever runs on 8265 here
            "SENTINEL_RAY_DASHBOARD": f"http://127.0.0.1:{_closed_port()}",
        }
        self.tmp = tmp

    def __call__(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "sentinel", "--config", str(self.config), *args],
            env=self.env, cwd=self.tmp, capture_output=True, text=True, timeout=180,
        )


def _eks_sizes(sb: Sandbox) -> dict[str, tuple[int, int, int]]:
    eks = aws_client(sb, "eks")
    out = {}
    for name in sb.cluster.nodegroups:
        ng = eks.describe_nodegroup(clusterName=sb.cluster.eks_cluster, nodegroupName=name)["nodegroup"]
        sc = ng["scalingConfig"]
        out[name] = (sc["minSize"], sc["desiredSize"], sc["maxSize"])
    return out


def _redis_dump(client: redis.Redis) -> dict[Any, Any]:
    return {k: client.dump(k) for k in client.keys("*")}


def test_status_json_reads_the_live_cluster(sandbox: Sandbox, redis_url: str, tmp_path: Path) -> None:
    cli = Cli(sandbox, redis_url, tmp_path)
    res = cli("status", "--json")
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    st = doc["training"]
    assert st["state"] == "unknown"
    assert st["nodegroups"] == AWAKE
    assert st["deployments"] == {"kube-system/cluster-autoscaler": 1, "kube-system/metrics-server": 1,
                                 "kube-system/coredns": 2}
    assert st["nodes_ready"] == {"managed-ng-1": 2, "worker-group-spot-1": 1}
    assert st["errors"] == {}

    one = json.loads(cli("status", "training", "--json").stdout)
    assert one["nodegroups"] == AWAKE


def test_plan_sleep_prints_the_calls_and_changes_nothing(
    sandbox: Sandbox, redis_url: str, redis_client: redis.Redis, tmp_path: Path
) -> None:
    cli = Cli(sandbox, redis_url, tmp_path)
    sizes_before, keys_before = _eks_sizes(sandbox), _redis_dump(redis_client)
    assert sizes_before == {"managed-ng-1": (2, 2, 4), "worker-group-spot-1": (0, 1, 5)}

    res = cli("plan", "sleep", "training")
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    steps = [line.strip() for line in lines[lines.index("steps:") + 1:] if line.startswith("  ")]
    assert steps[0] == "1. kubectl scale deployment cluster-autoscaler -n kube-system --replicas=0   # 1 → 0"
    assert "7. eks update-nodegroup-config managed-ng-1 scalingConfig min/desired/max 2/2/4 → 0/0/4" in steps
    assert "8. eks update-nodegroup-config worker-group-spot-1 scalingConfig min/desired/max 0/1/5 → 0/0/5" in steps
    assert any(line.startswith("note: Ray unreachable") for line in lines)
    assert any(line.startswith("guard: ") for line in lines)

    # nothing changed: EKS sizes, the deployments, and the state store
    assert _eks_sizes(sandbox) == sizes_before
    after = json.loads(cli("status", "training", "--json").stdout)
    assert after["nodegroups"] == AWAKE and after["deployments"]["kube-system/coredns"] == 2
    assert after["state"] == "unknown" and after["snapshot"] is None and after["intent"] is None
    assert _redis_dump(redis_client) == keys_before

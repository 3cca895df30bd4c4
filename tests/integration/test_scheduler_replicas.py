"""Two `sentinel scheduler` processes running by mistake produce one effect: the bus dedups their events."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from sentinel import config
from sentinel.ops.powerstate import PowerStore
from sentinel.sandbox import Sandbox
from sentinel.workers import runtime
from tests.fixtures.redis import Workers, wait_for


def test_two_schedulers_one_sleep(sandbox: Sandbox, workers_factory: Callable[..., Workers], tmp_path: Path) -> None:
    every_minute = [{"name": "minutely-sleep", "cluster": "training", "action": "sleep", "cron": "* * * * *",
                     "timezone": "Australia/Sydney"}]
    w = workers_factory(env={**sandbox.env, "SENTINEL_RAY_DASHBOARD": "http://127.0.0.1:9"}, schedules=every_minute,
                        task_time_limit=20, visibility_timeout=24)
    w.start()
    rt = runtime.build(config.load(w.config_file, env={}), env={})
    schedulers = [
        subprocess.Popen([sys.executable, "-m", "sentinel", "--config", str(w.config_file), "scheduler"], env=w.env,
                         stdout=(tmp_path / f"scheduler-{i}.log").open("wb"), stderr=subprocess.STDOUT, cwd=tmp_path)
        for i in range(2)
    ]
    try:
        store = PowerStore(rt.client, "training")
        wait_for(lambda: store.state().state == "asleep", timeout=90, what="the scheduled sleep")
        wait_for(lambda: Counter(r.kind for r in rt.audit.read(limit=500))["duplicate"] >= 1, timeout=30,
                 what="the second scheduler's copy to be dropped as a duplicate")
    finally:
        for p in schedulers:
            p.terminate()
            p.wait(20)
    records = rt.audit.read(limit=500)
    accepted = Counter(r.event_id for r in records if r.kind == "accepted" and r.fields.get("type", "").endswith(
        "sleep"))
    assert accepted and all(n == 1 for n in accepted.values()), accepted
    assert all(eid.startswith("minutely-sleep@") for eid in accepted)
    transitions = [r.fields["state"] for r in records if r.kind == "transition"]
    assert transitions.count("sleeping") == 1 and transitions.count("asleep") == 1
    nodegroup_updates = [e for e in sandbox.history if e.kind == "nodegroup.scaled" and e.name == "managed-ng-1"]
    assert len(nodegroup_updates) == 1

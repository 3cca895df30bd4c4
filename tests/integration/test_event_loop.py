"""The event loop on a real redis-server with real `sentinel worker` processes."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
import redis

from sentinel import config
from sentinel.events import envelope, keys, types
from sentinel.workers import runtime
from tests.fixtures.redis import ROOT, Workers, wait_for


def noop(id: str, **data: object) -> envelope.Event:
    return envelope.Event(id=id, source="tests", type=types.NOOP, data=data)


def kinds_for(rt: runtime.Runtime, event_id: str) -> Counter[str]:
    return Counter(r.kind for r in rt.audit.read(limit=200, event_id=event_id))


@pytest.fixture
def loop(workers_factory: Callable[..., Workers]) -> tuple[Workers, runtime.Runtime]:
    w = workers_factory()
    rt = runtime.build(config.load(w.config_file, env={}))
    return w, rt


def test_same_event_three_times_is_handled_once(
    loop: tuple[Workers, runtime.Runtime], redis_client: redis.Redis
) -> None:
    w, rt = loop
    w.start()
    statuses = [rt.bus.publish(noop("dup-1", key="dup-1")).status for _ in range(3)]
    assert statuses == ["accepted", "duplicate", "duplicate"]
    wait_for(lambda: kinds_for(rt, "dup-1")["succeeded"] == 1, what="the event to be handled", timeout=60)
    k = kinds_for(rt, "dup-1")
    assert (k["accepted"], k["duplicate"], k["started"], k["succeeded"]) == (1, 2, 1, 1)
    assert redis_client.get(keys.effect("noop:dup-1:count")) == "1"


def test_transient_twice_then_success(loop: tuple[Workers, runtime.Runtime]) -> None:
    w, rt = loop
    w.start()
    rt.bus.publish(noop("flaky-1", fail="transient", fail_times=2))
    wait_for(lambda: kinds_for(rt, "flaky-1")["succeeded"] == 1, what="success after retries", timeout=60)
    k = kinds_for(rt, "flaky-1")
    assert (k["started"], k["retried"], k["succeeded"], k["dead_lettered"]) == (3, 2, 1, 0)
    assert len(rt.dlq) == 0


def test_permanent_error_is_dead_lettered_without_retry(loop: tuple[Workers, runtime.Runtime]) -> None:
    w, rt = loop
    w.start()
    rt.bus.publish(noop("perm-1", fail="permanent", message="boom"))
    wait_for(lambda: kinds_for(rt, "perm-1")["dead_lettered"] == 1, what="a dead letter", timeout=60)
    k = kinds_for(rt, "perm-1")
    assert (k["started"], k["retried"]) == (1, 0)
    (dl,) = rt.dlq.list()
    assert (dl.error, dl.attempts, dl.event["id"]) == ("PermanentError", 1, "perm-1")
    assert "boom" in dl.message


def test_transient_forever_ends_in_the_dlq(loop: tuple[Workers, runtime.Runtime]) -> None:
    w, rt = loop
    w.start()
    rt.bus.publish(noop("flaky-forever", fail="transient", fail_times=50))
    wait_for(lambda: kinds_for(rt, "flaky-forever")["dead_lettered"] == 1, what="retries exhausted", timeout=90)
    (dl,) = rt.dlq.list()
    assert (dl.error, dl.attempts) == ("TransientError", 4)  # max_retries 3 in the test config


def test_dlq_replay_runs_the_event_again(loop: tuple[Workers, runtime.Runtime], redis_client: redis.Redis) -> None:
    w, rt = loop
    w.start()
    rt.bus.publish(noop("replay-1", fail="transient", fail_times=4, key="replay-1"))
    wait_for(lambda: len(rt.dlq) == 1, what="dead letter", timeout=90)
    (dl,) = rt.dlq.list()
    env = {**w.env}
    out = subprocess.run(
        [sys.executable, "-m", "sentinel", "--config", str(w.config_file), "dlq", "replay", dl.id],
        env=env,
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    # the replay is attempt 1 of a new task; fail_times=4 > 1, so make the count the real check:
    wait_for(lambda: kinds_for(rt, "replay-1")["replayed"] == 1, what="replayed record")
    assert len(rt.dlq) <= 1 and dl.id not in [d.id for d in rt.dlq.list()]


def test_worker_killed_mid_task_is_redelivered_and_applied_once(
    loop: tuple[Workers, runtime.Runtime], redis_client: redis.Redis
) -> None:
    w, rt = loop
    first = w.start(name="doomed")
    rt.bus.publish(noop("crash-1", key="crash-1", sleep=3))
    wait_for(lambda: kinds_for(rt, "crash-1")["started"] == 1, what="the task to start", timeout=60)
    w.kill(first)  # SIGKILL the whole worker: no chance to ack or requeue
    assert redis_client.get(keys.effect("noop:crash-1:count")) is None
    w.start(name="rescuer")
    wait_for(lambda: kinds_for(rt, "crash-1")["succeeded"] >= 1, what="redelivery to the new worker", timeout=90)
    assert redis_client.get(keys.effect("noop:crash-1:count")) == "1"
    assert kinds_for(rt, "crash-1")["started"] == 2  # ran twice, applied once


def test_cli_refuses_malformed_event_and_enqueues_nothing(
    loop: tuple[Workers, runtime.Runtime], tmp_path: Path
) -> None:
    w, rt = loop
    cmd = [sys.executable, "-m", "sentinel", "--config", str(w.config_file), "emit", types.SLEEP, "--data"]
    out = subprocess.run([*cmd, '{"cluster": 7}'], env=w.env, capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert out.returncode == 2
    assert "invalid data: cluster: Input should be a valid string" in out.stderr
    out = subprocess.run([*cmd, "{nope"], env=w.env, capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert out.returncode == 2 and "--data is not valid JSON" in out.stderr
    assert rt.client.llen("ops") == 0
    ok = subprocess.run(
        [sys.executable, "-m", "sentinel", "--config", str(w.config_file), "emit", types.NOOP, "--id", "cli-1"],
        env=w.env,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
    )
    assert ok.returncode == 0 and ok.stdout.strip() == "cli-1 accepted"
    assert rt.client.llen("events") == 1


def test_publishing_does_not_subscribe_to_results(
    loop: tuple[Workers, runtime.Runtime], redis_client: redis.Redis
) -> None:
    """Sentinel ignores Celery results (the audit is the record): a publisher must not SUBSCRIBE (and later
    UNSUBSCRIBE) a result channel per event, which Celery does for a task sent by name unless told not to."""
    _, rt = loop
    rt.bus.publish(noop("sub-warm", key="sub-warm"))  # connections made
    redis_client.config_resetstat()
    published = [rt.bus.publish(noop(f"sub-{i}", key=f"sub-{i}")) for i in range(5)]
    assert all(p.accepted for p in published)
    stats = redis_client.info("commandstats")
    assert not {k for k in stats if "subscribe" in k}, stats
    assert redis_client.llen("events") == 6  # every one is queued (no worker runs in this test)

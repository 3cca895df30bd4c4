"""Contract of the RayJobs port: the fake and the Jobs-API adapter against a real local Ray head (``slow``)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from sentinel.errors import PermanentError, TransientError
from sentinel.ops import ports
from sentinel.ops.adapters import ray as ray_adapter
from tests.fakes import FakeRayJobs

TERMINAL = {ports.SUCCEEDED, ports.FAILED, ports.STOPPED}


@dataclass
class Harness:
    port: ports.RayJobs
    settle: Callable[[str, float], str]
    """Let a job reach a terminal state (real: poll; fake: "run" it) and return that state."""
    start: Callable[[str, float], None]
    """Let a submitted job start (real: poll until RUNNING; fake: mark it RUNNING)."""


def _fake_harness() -> Harness:
    fake = FakeRayJobs()

    def settle(sid: str, _timeout: float) -> str:
        job = fake.jobs[sid]
        if job.status not in TERMINAL:
            words = job.entrypoint.split()
            ok = words[0] == "echo"
            fake.set_status(sid, ports.SUCCEEDED if ok else ports.FAILED, logs=" ".join(words[1:]) + "\n" if ok else "")
        return fake.status(sid)

    def start(sid: str, _timeout: float) -> None:
        fake.set_status(sid, ports.RUNNING)

    return Harness(fake, settle, start)


def _real_harness(dashboard: str) -> Harness:
    port = ray_adapter.RayJobsApi(dashboard)

    def poll(sid: str, timeout: float, done: Callable[[str], bool]) -> str:
        deadline = time.monotonic() + timeout
        status = port.status(sid)
        while not done(status) and time.monotonic() < deadline:
            time.sleep(0.5)
            status = port.status(sid)
        return status

    def settle(sid: str, timeout: float) -> str:
        return poll(sid, timeout, lambda s: s in TERMINAL)

    def start(sid: str, timeout: float) -> None:
        assert poll(sid, timeout, lambda s: s != ports.PENDING) == ports.RUNNING

    return Harness(port, settle, start)


@pytest.fixture(params=["fake", pytest.param("ray", marks=pytest.mark.slow)])
def harness(request: pytest.FixtureRequest) -> Harness:
    if request.param == "fake":
        return _fake_harness()
    head = request.getfixturevalue("ray_head")
    return _real_harness(head.dashboard_url)


def sid(prefix: str) -> str:
    return f"contract-{prefix}-{uuid.uuid4().hex[:8]}"


def test_submit_runs_the_entrypoint_with_metadata(harness: Harness) -> None:
    job_id = sid("echo")
    submitted = harness.port.submit("echo hello-contract", submission_id=job_id, metadata={"correlation_id": "c-1"})
    assert submitted == job_id
    assert harness.settle(job_id, 120) == ports.SUCCEEDED
    assert "hello-contract" in harness.port.logs(job_id)
    (listed,) = [j for j in harness.port.list_jobs() if j.submission_id == job_id]
    assert listed.entrypoint == "echo hello-contract"
    assert listed.metadata.get("correlation_id") == "c-1"
    assert listed not in harness.port.running()


def test_submitting_the_same_id_twice_submits_once(harness: Harness) -> None:
    job_id = sid("twice")
    first = harness.port.submit("echo once", submission_id=job_id)
    second = harness.port.submit("echo once", submission_id=job_id)
    assert first == second == job_id
    assert [j.submission_id for j in harness.port.list_jobs()].count(job_id) == 1
    harness.settle(job_id, 120)


def test_a_running_job_is_running_until_stopped(harness: Harness) -> None:
    job_id = sid("sleep")
    harness.port.submit("sleep 120", submission_id=job_id)
    harness.start(job_id, 120)
    assert job_id in [j.submission_id for j in harness.port.running()]
    assert harness.port.stop(job_id) is True
    assert harness.settle(job_id, 60) == ports.STOPPED
    assert job_id not in [j.submission_id for j in harness.port.running()]
    assert harness.port.stop(job_id) is False


def test_unknown_job_is_permanent(harness: Harness) -> None:
    with pytest.raises(PermanentError, match="no-such-job"):
        harness.port.status("no-such-job")
    with pytest.raises(PermanentError):
        harness.port.logs("no-such-job")
    with pytest.raises(PermanentError):
        harness.port.stop("no-such-job")


def test_unreachable_dashboard_is_transient() -> None:
    port = ray_adapter.RayJobsApi("http://127.0.0.1:9")
    with pytest.raises(TransientError, match=r"127\.0\.0\.1:9"):
        port.list_jobs()


@pytest.mark.slow
def test_a_connected_driver_is_not_a_running_job(ray_head: Any) -> None:
    """A notebook or script attached with ray.init() is listed by Ray as a RUNNING driver; it must not block a sleep."""
    import subprocess
    import sys

    from sentinel.ops.adapters.ray import RayJobsApi

    port = RayJobsApi(ray_head.dashboard_url)
    code = "import ray, time; ray.init(address='auto'); print('up', flush=True); time.sleep(60)"
    driver = subprocess.Popen([sys.executable, "-c", code], env=ray_head.env, stdout=subprocess.PIPE, text=True)
    try:
        assert driver.stdout is not None and driver.stdout.readline().strip() == "up"
        drivers = [j for j in port.list_jobs() if j.submission_id is None and j.status == ports.RUNNING]
        assert drivers, "Ray lists the connected driver"
        assert all(j.submission_id for j in port.running())
    finally:
        driver.kill()
        driver.wait(10)

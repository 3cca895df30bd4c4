"""The Jobs-API adapter against a stand-in SDK client: idempotent submit, lazy connect, error translation."""

from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import pytest

from sentinel.errors import PermanentError, TransientError
from sentinel.ops import ports
from sentinel.ops.adapters.ray import RayJobsApi


@dataclass
class StubSDK:
    """Answers like ``JobSubmissionClient``: RuntimeError('Request failed with status code N: …')."""

    jobs: dict[str, Any] = field(default_factory=dict)
    submits: list[dict[str, Any]] = field(default_factory=list)
    fail_list: list[Exception] = field(default_factory=list)

    def submit_job(self, **kwargs: Any) -> str:
        sid = kwargs["submission_id"]
        if sid in self.jobs:
            raise RuntimeError(
                f"Request failed with status code 400: Job with submission_id {sid} already exists. "
                "Please use a different submission_id.."
            )
        self.submits.append(kwargs)
        self.jobs[sid] = SimpleNamespace(
            job_id=None, submission_id=sid, status=SimpleNamespace(value="PENDING"),
            entrypoint=kwargs["entrypoint"], metadata=kwargs["metadata"],
        )  # fmt: skip
        return sid

    def list_jobs(self) -> list[Any]:
        if self.fail_list:
            raise self.fail_list.pop(0)
        return list(self.jobs.values())

    def get_job_info(self, sid: str) -> Any:
        if sid not in self.jobs:
            raise RuntimeError(f"Request failed with status code 404: Job {sid} does not exist.")
        return self.jobs[sid]

    def get_job_logs(self, sid: str) -> str:
        self.get_job_info(sid)
        return "hello\n"

    def stop_job(self, sid: str) -> bool:
        job = self.get_job_info(sid)
        return job.status.value in ("PENDING", "RUNNING")


def make(sdk: StubSDK) -> tuple[RayJobsApi, list[str]]:
    connects: list[str] = []

    def factory(address: str) -> StubSDK:
        connects.append(address)
        return sdk

    return RayJobsApi("http://ray-head:8265", client_factory=factory), connects


def test_construction_does_not_contact_the_dashboard() -> None:
    _, connects = make(StubSDK())
    assert connects == []


def test_resubmitting_an_id_returns_it_without_a_second_job() -> None:
    sdk = StubSDK()
    jobs, connects = make(sdk)
    assert jobs.submit("python train.py", submission_id="retrain-e1", metadata={"attempt": 1}) == "retrain-e1"  # type: ignore[dict-item]
    assert jobs.submit("python train.py", submission_id="retrain-e1") == "retrain-e1"
    assert [s["submission_id"] for s in sdk.submits] == ["retrain-e1"]
    assert sdk.submits[0]["metadata"] == {"attempt": "1"}  # Ray wants str → str
    assert connects == ["http://ray-head:8265"]  # one client, reused


def test_running_is_pending_or_running_only() -> None:
    sdk = StubSDK()
    for sid, status in [("a", "PENDING"), ("b", "RUNNING"), ("c", "SUCCEEDED"), ("d", "FAILED"), ("e", "STOPPED")]:
        sdk.jobs[sid] = SimpleNamespace(job_id="01", submission_id=sid, status=status, entrypoint="x", metadata={})
    jobs, _ = make(sdk)
    assert [j.submission_id for j in jobs.running()] == ["a", "b"]
    assert all(isinstance(j, ports.RayJob) for j in jobs.list_jobs())


def test_unknown_job_is_permanent() -> None:
    jobs, _ = make(StubSDK())
    with pytest.raises(PermanentError, match="no Ray job 'nope'"):
        jobs.status("nope")
    with pytest.raises(PermanentError, match="404"):
        jobs.stop("nope")


def test_server_errors_are_transient_and_a_lost_connection_reconnects() -> None:
    sdk = StubSDK(fail_list=[RuntimeError("Request failed with status code 503: busy"), ConnectionError("reset")])
    jobs, connects = make(sdk)
    with pytest.raises(TransientError, match="503"):
        jobs.list_jobs()
    with pytest.raises(TransientError, match="unreachable"):
        jobs.list_jobs()
    assert jobs.list_jobs() == []
    assert len(connects) == 2  # rebuilt after the connection error, not after the 503


def test_a_dashboard_that_refuses_the_connection_is_transient() -> None:
    def factory(address: str) -> Any:
        raise ConnectionError(f"Failed to connect to Ray at address: {address}.")

    jobs = RayJobsApi("http://127.0.0.1:9", client_factory=factory)
    with pytest.raises(TransientError, match="connect to Ray dashboard"):
        jobs.submit("echo", submission_id="x")

"""In-memory Ray Jobs API."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from sentinel.errors import PermanentError, SentinelError
from sentinel.ops import ports

TERMINAL = frozenset({ports.STOPPED, ports.SUCCEEDED, ports.FAILED})


@dataclass
class FakeRayJobs:
    """Implements :class:`sentinel.ops.ports.RayJobs`.

    ``calls`` records ``("submit", submission_id, entrypoint)`` and ``("stop", submission_id)``;
    ``submitted`` only the submissions that created a job (a repeated id submits nothing).
    """

    jobs: dict[str, ports.RayJob] = field(default_factory=dict)
    job_logs: dict[str, str] = field(default_factory=dict)
    runtime_envs: dict[str, dict[str, Any] | None] = field(default_factory=dict)
    calls: list[tuple[Any, ...]] = field(default_factory=list)
    submitted: list[str] = field(default_factory=list)
    failures: dict[str, list[SentinelError]] = field(default_factory=dict)

    def add(
        self,
        submission_id: str,
        *,
        status: str = ports.RUNNING,
        entrypoint: str = "python job.py",
        metadata: dict[str, str] | None = None,
        logs: str = "",
    ) -> ports.RayJob:
        job = ports.RayJob(
            job_id=None if status == ports.PENDING else f"{len(self.jobs) + 1:02d}000000",
            submission_id=submission_id,
            status=status,
            entrypoint=entrypoint,
            metadata=dict(metadata or {}),
        )
        self.jobs[submission_id] = job
        self.job_logs[submission_id] = logs
        return job

    def set_status(self, submission_id: str, status: str, *, logs: str | None = None) -> None:
        job = self._get(submission_id)
        self.jobs[submission_id] = replace(job, status=status, job_id=job.job_id or f"{len(self.jobs):02d}000000")
        if logs is not None:
            self.job_logs[submission_id] = logs

    def fail(self, method: str, error: SentinelError) -> None:
        """The next call of ``method`` raises ``error`` (e.g. TransientError: dashboard unreachable)."""
        self.failures.setdefault(method, []).append(error)

    def _maybe_fail(self, method: str) -> None:
        queue = self.failures.get(method)
        if queue:
            raise queue.pop(0)

    def _get(self, submission_id: str) -> ports.RayJob:
        try:
            return self.jobs[submission_id]
        except KeyError:
            raise PermanentError(f"no Ray job {submission_id!r}") from None

    def list_jobs(self) -> list[ports.RayJob]:
        self._maybe_fail("list_jobs")
        return list(self.jobs.values())

    def running(self) -> list[ports.RayJob]:
        return [j for j in self.list_jobs() if j.blocks_sleep]

    def submit(
        self,
        entrypoint: str,
        *,
        submission_id: str,
        runtime_env: dict[str, Any] | None = None,
        metadata: dict[str, str] | None = None,
    ) -> str:
        self.calls.append(("submit", submission_id, entrypoint))
        self._maybe_fail("submit")
        if not entrypoint.strip():
            raise PermanentError(f"submit Ray job {submission_id}: empty entrypoint")
        if submission_id in self.jobs:
            return submission_id
        self.add(submission_id, status=ports.PENDING, entrypoint=entrypoint, metadata=metadata)
        self.runtime_envs[submission_id] = runtime_env
        self.submitted.append(submission_id)
        return submission_id

    def status(self, submission_id: str) -> str:
        self._maybe_fail("status")
        return self._get(submission_id).status

    def logs(self, submission_id: str) -> str:
        self._maybe_fail("logs")
        self._get(submission_id)
        return self.job_logs.get(submission_id, "")

    def stop(self, submission_id: str) -> bool:
        self.calls.append(("stop", submission_id))
        self._maybe_fail("stop")
        job = self._get(submission_id)
        if job.status in TERMINAL:
            return False
        self.jobs[submission_id] = replace(job, status=ports.STOPPED)
        return True

"""Ray's Jobs API through ``ray.job_submission.JobSubmissionClient`` (:class:`~sentinel.ops.ports.RayJobs`).

Constructing the SDK client contacts the dashboard, so it is built on first use (and rebuilt after a
failure): wiring never blocks on, or fails because of, a Ray head that is still starting.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

from sentinel.errors import PermanentError
from sentinel.ops import ports
from sentinel.ops.adapters import errors

T = TypeVar("T")


def _job(details: Any) -> ports.RayJob:
    status = getattr(details, "status", "")
    return ports.RayJob(
        job_id=getattr(details, "job_id", None),
        submission_id=getattr(details, "submission_id", None),
        status=str(getattr(status, "value", status)),
        entrypoint=str(getattr(details, "entrypoint", "")),
        metadata=dict(getattr(details, "metadata", None) or {}),
    )


class RayJobsApi:
    """Jobs on one Ray cluster, addressed by its dashboard URL (``http://host:8265``)."""

    def __init__(self, dashboard: str, *, client_factory: Callable[[str], Any] | None = None) -> None:
        self.dashboard = dashboard
        self._factory = client_factory
        self._client: Any = None
        self._lock = threading.Lock()

    def _sdk(self) -> Any:
        with self._lock:
            if self._client is None:
                factory = self._factory
                if factory is None:
                    from ray.job_submission import JobSubmissionClient

                    factory = JobSubmissionClient
                try:
                    self._client = factory(self.dashboard)
                except Exception as e:
                    raise errors.ray(e, what=f"connect to Ray dashboard {self.dashboard}") from e
            return self._client

    def _call(self, what: str, fn: Callable[[Any], T]) -> T:
        sdk = self._sdk()
        try:
            return fn(sdk)
        except Exception as e:
            err = errors.ray(e, what=what)
            if isinstance(e, ConnectionError | OSError):
                with self._lock:
                    self._client = None  # reconnect (and re-check the version) next time
            raise err from e

    def list_jobs(self) -> list[ports.RayJob]:
        return [_job(d) for d in self._call("list Ray jobs", lambda c: c.list_jobs())]

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
        def submit(sdk: Any) -> str:
            try:
                return str(
                    sdk.submit_job(
                        entrypoint=entrypoint,
                        submission_id=submission_id,
                        runtime_env=runtime_env,
                        metadata={str(k): str(v) for k, v in (metadata or {}).items()},
                    )
                )
            except RuntimeError as e:
                if "already exists" in str(e):
                    return submission_id  # a retried task: the first submission stands
                raise

        return self._call(f"submit Ray job {submission_id}", submit)

    def _info(self, submission_id: str, what: str) -> Any:
        try:
            return self._call(what, lambda c: c.get_job_info(submission_id))
        except PermanentError as e:
            cause = e.__cause__
            if cause is not None and errors.ray_status(cause) == 404:
                raise PermanentError(f"{what}: no Ray job {submission_id!r}") from cause
            raise

    def status(self, submission_id: str) -> str:
        return _job(self._info(submission_id, f"status of Ray job {submission_id}")).status

    def logs(self, submission_id: str) -> str:
        return str(self._call(f"logs of Ray job {submission_id}", lambda c: c.get_job_logs(submission_id)))

    def stop(self, submission_id: str) -> bool:
        return bool(self._call(f"stop Ray job {submission_id}", lambda c: c.stop_job(submission_id)))

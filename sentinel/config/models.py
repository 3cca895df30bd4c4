"""The shape of ``sentinel.yaml``: pydantic models, validated strictly (unknown fields are errors)."""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

from sentinel.errors import ConfigError

DEPLOYMENT_REF = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?/[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
NAME = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")
DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}


def parse_duration(value: object) -> float:
    """``90``, ``"90s"``, ``"15m"``, ``"2h"``, ``"1d"`` → seconds."""
    if isinstance(value, bool):
        raise ValueError(f"not a duration: {value!r}")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        m = DURATION.match(str(value))
        if not m:
            raise ValueError(f"not a duration: {value!r} (use e.g. 90s, 15m, 2h)")
        seconds = float(m.group(1)) * _UNITS[m.group(2)]
    if seconds < 0:
        raise ValueError(f"duration must not be negative: {value!r}")
    return seconds


Duration = Annotated[float, BeforeValidator(parse_duration)]
"""Seconds, written as a number or with a unit (``90s``, ``15m``, ``2h``)."""


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Sizes(Strict):
    """A managed node group's scaling config (the EKS ``scalingConfig``)."""

    min: int = Field(ge=0)
    desired: int = Field(ge=0)
    max: int = Field(ge=1)

    @model_validator(mode="after")
    def _ordered(self) -> Sizes:
        if self.min > self.desired:
            raise ValueError(f"min ({self.min}) is above desired ({self.desired})")
        if self.desired > self.max:
            raise ValueError(f"desired ({self.desired}) is above max ({self.max})")
        return self


class NodeGroup(Strict):
    awake: Sizes
    instance_type: str = "m5.xlarge"
    spot: bool = False


class RayEndpoints(Strict):
    dashboard: str = "http://127.0.0.1:8265"
    """Ray dashboard / Jobs API address (``JobSubmissionClient``)."""
    serve: str = "http://127.0.0.1:8000"
    """Ray Serve HTTP proxy, where ``/recommend`` answers."""
    namespace: str = "sentinel-prod"
    """Kubernetes namespace of the KubeRay objects."""
    raycluster: str | None = None
    rayservice: str | None = None
    """When set, deploys patch this RayService's ``serveConfigV2``; else Serve's REST API is used."""
    keep_awake_while_serving: bool = False
    """A RayService that must stay up blocks the sleep (guard)."""


class Cluster(Strict):
    region: str = "ap-southeast-2"
    eks_cluster: str
    nodegroups: dict[str, NodeGroup] = Field(min_length=1)
    system_deployments: list[str] = Field(
        default_factory=lambda: [
            "kube-system/cluster-autoscaler",
            "kube-system/metrics-server",
            "kube-system/coredns",
        ]
    )
    """Stopped in this order when the cluster sleeps, started in reverse when it wakes."""
    awake_replicas: dict[str, int] = Field(default_factory=dict)
    """Replicas used on wake when no snapshot exists (``ns/name: n``); default 1, CoreDNS 2."""
    ray: RayEndpoints = Field(default_factory=RayEndpoints)
    wake_timeout: Duration = 900.0
    sleep_timeout: Duration = 600.0

    @field_validator("nodegroups")
    @classmethod
    def _ng_names(cls, v: dict[str, NodeGroup]) -> dict[str, NodeGroup]:
        for name in v:
            if not NAME.match(name):
                raise ValueError(f"node group name {name!r} is not valid")
        return v

    @field_validator("system_deployments")
    @classmethod
    def _refs(cls, v: list[str]) -> list[str]:
        for ref in v:
            if not DEPLOYMENT_REF.match(ref):
                raise ValueError(f"{ref!r} is not namespace/name")
        if len(set(v)) != len(v):
            raise ValueError("a deployment is listed twice")
        return v

    @field_validator("awake_replicas")
    @classmethod
    def _replicas(cls, v: dict[str, int]) -> dict[str, int]:
        for ref, n in v.items():
            if not DEPLOYMENT_REF.match(ref):
                raise ValueError(f"{ref!r} is not namespace/name")
            if n < 0:
                raise ValueError(f"{ref}: replicas ({n}) is negative")
        return v

    def default_replicas(self, ref: str) -> int:
        if ref in self.awake_replicas:
            return self.awake_replicas[ref]
        return 2 if ref.endswith("/coredns") else 1


class DateRange(Strict):
    start: dt.date
    end: dt.date

    @model_validator(mode="after")
    def _ordered(self) -> DateRange:
        if self.end < self.start:
            raise ValueError(f"end ({self.end}) is before start ({self.start})")
        return self


class Schedule(Strict):
    name: str
    cluster: str
    action: Literal["sleep", "wake"]
    cron: str
    """Five-field crontab (minute hour day month day_of_week), as APScheduler's ``CronTrigger.from_crontab``."""
    timezone: str = "UTC"
    skip_dates: list[dt.date] = Field(default_factory=list)
    skip_ranges: list[DateRange] = Field(default_factory=list)
    enabled: bool = True

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        try:
            zoneinfo.ZoneInfo(v)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError) as e:
            raise ValueError(f"unknown IANA timezone {v!r}") from e
        return v

    @field_validator("cron")
    @classmethod
    def _cron(cls, v: str) -> str:
        if len(v.split()) != 5:
            raise ValueError(f"cron {v!r} must have 5 fields (minute hour day month day_of_week)")
        return v

    def skips(self, day: dt.date) -> bool:
        return day in self.skip_dates or any(r.start <= day <= r.end for r in self.skip_ranges)


class S3Trigger(Strict):
    name: str
    type: Literal["s3"] = "s3"
    bucket: str
    queue: str
    """SQS queue receiving the bucket's ``s3:ObjectCreated:*`` notifications."""
    prefix: str = ""
    suffix: str = ""
    cluster: str
    action: Literal["retrain"] = "retrain"
    debounce: Duration = 0.0
    """Seconds to gather uploads into one retrain (0: one retrain per notification batch)."""


class ChatOps(Strict):
    """Slack slash commands. The signing secret comes from ``SENTINEL_SLACK_SIGNING_SECRET`` only."""

    command: str = "/sentinel"
    permissions: dict[str, list[str]] = Field(default_factory=dict)
    """verb (sleep, wake, keep-awake, retrain, deploy, status) → Slack user ids allowed; ``*`` for anyone."""
    max_clock_skew: Duration = 300.0


class MLSettings(Strict):
    storage: str = ".work/models"
    """Where checkpoints, model cards and the registry live: a local dir or ``s3://bucket/prefix``."""
    num_workers: int = Field(default=2, ge=1)
    epochs: int = Field(default=4, ge=1)
    tune_trials: int = Field(default=8, ge=0)
    tune_max_epochs: int | None = Field(default=None, ge=1)
    """Per-trial epoch budget for ASHA (None: the pipeline's default)."""
    deploy_after_retrain: bool = True
    idle_before_sleep: Duration = 300.0
    """After a retrain, if the schedule says the cluster should be asleep, it sleeps again after this long."""
    job_timeout: Duration = 3600.0
    """How long a retrain follows its Ray job before giving up (the job keeps running)."""
    working_dir: str | None = None
    """``runtime_env.working_dir`` for the Ray job (a local dir or a URI); None: the image already has Sentinel."""
    serve_app: str = "recommender"
    """The Serve application's name."""
    deploy_timeout: Duration = 300.0
    smoke_body: dict[str, Any] = Field(default_factory=lambda: {"user_id": 42, "movie_ids": [100, 200, 300]})


class RetryPolicy(Strict):
    """How a task retries on ``TransientError``: exponential backoff with jitter, capped."""

    max_retries: int = Field(default=5, ge=0, le=100)
    backoff: Duration = Field(default=2.0, gt=0)
    """First delay in seconds; doubles each attempt."""
    backoff_max: Duration = Field(default=300.0, gt=0)


class Config(Strict):
    """The validated ``sentinel.yaml``; secrets and endpoints that vary per machine come from env."""

    redis_url: str = "redis://127.0.0.1:6379/0"
    dedup_ttl: Duration = 86400.0
    audit_maxlen: int = Field(default=100_000, ge=100)
    dlq_maxlen: int = Field(default=100_000, ge=100)
    task_time_limit: Duration = 3600.0
    """The longest a task may run; the broker's visibility timeout is set above it."""
    visibility_timeout: Duration | None = None
    """Seconds before Redis redelivers an unacknowledged task (a worker died); default time limit × 1.25 + 60."""
    retry: RetryPolicy = Field(default_factory=RetryPolicy)
    clusters: dict[str, Cluster] = Field(default_factory=dict)
    schedules: list[Schedule] = Field(default_factory=list)
    triggers: list[S3Trigger] = Field(default_factory=list)
    chatops: ChatOps = Field(default_factory=ChatOps)
    pricing: dict[str, float] = Field(default_factory=dict)
    """On-demand hourly price per instance type, for ``sentinel report cost``."""
    ml: MLSettings = Field(default_factory=MLSettings)

    @property
    def broker_visibility_timeout(self) -> float:
        return self.visibility_timeout or self.task_time_limit * 1.25 + 60

    @model_validator(mode="after")
    def _references(self) -> Config:
        if self.visibility_timeout is not None and self.visibility_timeout <= self.task_time_limit:
            raise ValueError(
                f"visibility_timeout ({self.visibility_timeout:g}) must be above task_time_limit "
                f"({self.task_time_limit:g}), or Redis redelivers tasks that are still running"
            )
        if self.retry.backoff_max * 2 >= self.broker_visibility_timeout:
            raise ValueError(
                f"retry.backoff_max ({self.retry.backoff_max:g}) must be well below the visibility timeout "
                f"({self.broker_visibility_timeout:g})"
            )
        names: set[str] = set()
        for i, s in enumerate(self.schedules):
            if s.cluster not in self.clusters:
                raise _at(("schedules", i, "cluster"), f"unknown cluster {s.cluster!r}")
            if s.name in names:
                raise _at(("schedules", i, "name"), f"schedule name {s.name!r} is used twice")
            names.add(s.name)
        for i, t in enumerate(self.triggers):
            if t.cluster not in self.clusters:
                raise _at(("triggers", i, "cluster"), f"unknown cluster {t.cluster!r}")
        return self

    def cluster(self, name: str) -> Cluster:
        try:
            return self.clusters[name]
        except KeyError:
            known = ", ".join(sorted(self.clusters)) or "none"
            raise ConfigError(f"unknown cluster {name!r} (configured: {known})") from None


class _LocatedError(ValueError):
    def __init__(self, loc: tuple[str | int, ...], msg: str) -> None:
        super().__init__(msg)
        self.loc = loc


def _at(loc: tuple[str | int, ...], msg: str) -> _LocatedError:
    return _LocatedError(loc, msg)

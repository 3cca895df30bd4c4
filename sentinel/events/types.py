"""Every event type Sentinel knows, each with a typed ``data`` model, and where its task runs.

``ROUTES[type]`` names the Celery task (``sentinel.<area>.<verb>``) and queue that handles it.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from sentinel.errors import PermanentError
from sentinel.events import envelope

SLEEP = "sentinel.schedule.sleep"
WAKE = "sentinel.schedule.wake"
KEEP_AWAKE = "sentinel.keepawake.requested"
S3_CREATED = "aws.s3.object.created"
RETRAIN = "sentinel.retrain.requested"
DEPLOY = "sentinel.deploy.requested"
CHATOPS = "sentinel.chatops.command"
NOOP = "sentinel.noop"

_CLUSTER = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")


class Data(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ClusterData(Data):
    cluster: str = Field(min_length=1, max_length=100)

    @field_validator("cluster")
    @classmethod
    def _name(cls, v: str) -> str:
        if not _CLUSTER.match(v):
            raise ValueError(f"cluster name {v!r} is not valid")
        return v


class PowerData(ClusterData):
    """``sentinel.schedule.sleep`` / ``.wake``: from a schedule, the CLI, ChatOps or the HTTP API."""

    schedule: str | None = None
    """The schedule that fired, if any (scheduled sleeps defer to keep-awake leases; manual ones say so)."""
    fire_time: dt.datetime | None = None
    requested_by: str | None = None
    force: bool = False
    """A manual sleep that overrides the keep-awake lease and the Ray-job guard."""


class KeepAwakeData(ClusterData):
    until: dt.datetime
    requested_by: str | None = None
    reason: str | None = Field(default=None, max_length=500)

    @field_validator("until")
    @classmethod
    def _aware(cls, v: dt.datetime) -> dt.datetime:
        if v.tzinfo is None:
            raise ValueError("until must carry a timezone")
        return v


class S3Object(Data):
    bucket: str = Field(min_length=3, max_length=63)
    key: str = Field(min_length=1, max_length=1024)
    size: int | None = Field(default=None, ge=0)
    etag: str | None = None
    sequencer: str | None = None
    """S3's ordering token for events on the same key: larger is newer (compare as hex, padded)."""
    version_id: str | None = None


class S3CreatedData(S3Object):
    trigger: str | None = None


class RetrainData(ClusterData):
    objects: list[S3Object] = Field(default_factory=list)
    """The data that prompted the retrain (empty: use the last known data set)."""
    trigger: str | None = None
    requested_by: str | None = None
    tune_trials: int | None = Field(default=None, ge=1, le=256)
    deploy: bool | None = None


class DeployData(ClusterData):
    model_version: str | None = Field(default=None, max_length=200)
    """None: the registry's current version."""
    requested_by: str | None = None


class ChatOpsData(Data):
    command: str = Field(min_length=1, max_length=100)
    text: str = Field(default="", max_length=2000)
    user_id: str = Field(min_length=1, max_length=100)
    user_name: str | None = None
    team_id: str | None = None
    channel_id: str | None = None
    response_url: str | None = None


class NoopData(Data):
    """A test/echo event: ``key`` marks an idempotent effect; ``fail`` scripts failures for the loop's tests."""

    key: str | None = None
    message: str | None = None
    fail: Literal["transient", "permanent"] | None = None
    fail_times: int = Field(default=0, ge=0, le=100)
    sleep: float = Field(default=0.0, ge=0, le=600)


@dataclass(frozen=True)
class Route:
    task: str
    queue: Literal["ops", "ml", "events"]
    model: type[Data]


ROUTES: dict[str, Route] = {
    SLEEP: Route("sentinel.ops.sleep", "ops", PowerData),
    WAKE: Route("sentinel.ops.wake", "ops", PowerData),
    KEEP_AWAKE: Route("sentinel.ops.keep_awake", "ops", KeepAwakeData),
    S3_CREATED: Route("sentinel.events.s3_object", "events", S3CreatedData),
    RETRAIN: Route("sentinel.ml.retrain", "ml", RetrainData),
    DEPLOY: Route("sentinel.ml.deploy", "ml", DeployData),
    CHATOPS: Route("sentinel.events.chatops", "events", ChatOpsData),
    NOOP: Route("sentinel.events.noop", "events", NoopData),
}


def route(event_type: str) -> Route:
    try:
        return ROUTES[event_type]
    except KeyError:
        known = ", ".join(sorted(ROUTES))
        raise PermanentError(f"unknown event type {event_type!r} (known: {known})") from None


def parse_data(event: envelope.Event) -> Data:
    """The typed ``data`` of ``event``; unknown type or bad data → ``PermanentError`` with the reason."""
    r = route(event.type)
    try:
        return r.model.model_validate(event.data)
    except ValidationError as e:
        raise PermanentError(f"{event.type}: invalid data: {envelope.describe(e)}") from None


def validate(event: envelope.Event) -> Data:
    return parse_data(event)


def data_as(event: envelope.Event, model: type[Any]) -> Any:
    d = parse_data(event)
    if not isinstance(d, model):
        raise PermanentError(f"{event.type}: expected {model.__name__} data")
    return d

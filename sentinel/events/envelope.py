"""The ``Event`` envelope: CloudEvents 1.0 attributes plus the ``correlationid`` extension.

``Event.data`` stays a plain JSON mapping on the wire; :func:`sentinel.events.types.parse_data` turns it into the
typed model for the event's ``type`` (and refuses unknown types or bad data with a ``PermanentError``).
"""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from sentinel.errors import PermanentError, shorten

SPECVERSION = "1.0"
_TYPE = re.compile(r"^[a-z0-9]+(\.[a-z0-9_-]+)+$")


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def new_id() -> str:
    return uuid.uuid4().hex


class Event(BaseModel):
    """A CloudEvents 1.0 event (structured mode, JSON)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(default_factory=new_id, min_length=1, max_length=256)
    source: str = Field(min_length=1, max_length=512)
    type: str = Field(min_length=1, max_length=256)
    specversion: str = SPECVERSION
    time: dt.datetime = Field(default_factory=utcnow)
    subject: str | None = Field(default=None, max_length=512)
    datacontenttype: str = "application/json"
    data: dict[str, Any] = Field(default_factory=dict)
    correlationid: str | None = Field(default=None, max_length=256)

    @field_validator("specversion")
    @classmethod
    def _spec(cls, v: str) -> str:
        if v != SPECVERSION:
            raise ValueError(f"specversion must be {SPECVERSION!r}, not {v!r}")
        return v

    @field_validator("type")
    @classmethod
    def _type(cls, v: str) -> str:
        if not _TYPE.match(v):
            raise ValueError(f"type {v!r} is not a reverse-DNS name like 'sentinel.schedule.sleep'")
        return v

    @field_validator("time")
    @classmethod
    def _aware(cls, v: dt.datetime) -> dt.datetime:
        return v if v.tzinfo else v.replace(tzinfo=dt.UTC)

    @property
    def correlation_id(self) -> str:
        """The id that follows the work across tasks and Ray jobs: born with the first event."""
        return self.correlationid or self.id

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)

    def dumps(self) -> str:
        return json.dumps(self.to_json(), separators=(",", ":"), sort_keys=True)

    def child(self, type: str, data: dict[str, Any], *, id: str, subject: str | None = None) -> Event:
        """An event caused by this one: same correlation id, ``source`` is Sentinel itself."""
        return Event(
            id=id,
            source="sentinel",
            type=type,
            subject=subject if subject is not None else self.subject,
            data=data,
            correlationid=self.correlation_id,
        )


def parse(raw: str | bytes | dict[str, Any]) -> Event:
    """Parse a structured-mode CloudEvent; any problem is a ``PermanentError`` naming the field."""
    if isinstance(raw, str | bytes):
        try:
            raw = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as e:
            raise PermanentError(f"event is not valid JSON: {shorten(e)}") from None
    if not isinstance(raw, dict):
        raise PermanentError(f"event must be a JSON object, not {type(raw).__name__}")
    try:
        return Event.model_validate(raw)
    except ValidationError as e:
        raise PermanentError(f"invalid event: {describe(e)}") from None


def describe(e: ValidationError) -> str:
    """``field: message; field: message`` — short, one line, safe for logs."""
    parts = []
    for err in e.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "(root)"
        msg = err["msg"].removeprefix("Value error, ")
        parts.append(f"{loc}: {msg}")
    return shorten("; ".join(parts))

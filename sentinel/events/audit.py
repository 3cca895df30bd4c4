"""The audit trail: one record per thing that happened to an event, in the capped Redis stream ``sentinel:audit``.

Kinds: accepted, duplicate, rejected, started, succeeded, retried, dead_lettered, replayed, plus playbook
outcomes (deferred, refused, step, transition …). Every record is also one JSON log line.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import redis

from sentinel import logs
from sentinel.errors import TransientError, shorten
from sentinel.events import keys
from sentinel.events.envelope import Event

log = logs.get("sentinel.audit")


@dataclass(frozen=True)
class Record:
    id: str
    kind: str
    at: dt.datetime
    fields: Mapping[str, str] = field(default_factory=dict)

    @property
    def event_id(self) -> str | None:
        return self.fields.get("event_id")

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "at": self.at.isoformat(), **self.fields}


def event_fields(event: Event | None) -> dict[str, str]:
    if event is None:
        return {}
    out = {
        "event_id": event.id,
        "source": event.source,
        "type": event.type,
        "correlation_id": event.correlation_id,
    }
    if event.subject:
        out["subject"] = event.subject
    return out


def _flatten(values: Mapping[str, Any]) -> dict[str, str]:
    out: dict[str, str] = {}
    for k, v in values.items():
        if v is None:
            continue
        if isinstance(v, str):
            out[k] = shorten(v, 1000)
        elif isinstance(v, bool | int | float):
            out[k] = json.dumps(v)
        else:
            out[k] = shorten(json.dumps(v, default=str, sort_keys=True), 2000)
    return out


def parse_record(entry_id: bytes | str, raw: Mapping[bytes | str, bytes | str]) -> Record:
    fields = keys.hash_text(raw)
    kind = fields.pop("kind", "?")
    at_s = fields.pop("at", None)
    at = dt.datetime.fromisoformat(at_s) if at_s else dt.datetime.fromtimestamp(0, dt.UTC)
    return Record(id=keys.text(entry_id), kind=kind, at=at, fields=fields)


class Audit:
    def __init__(self, client: redis.Redis, *, maxlen: int = 100_000, stream: str = keys.AUDIT) -> None:
        self.client = client
        self.maxlen = maxlen
        self.stream = stream

    def fields(
        self, kind: str, event: Event | None = None, *, now: dt.datetime | None = None, **extra: Any
    ) -> dict[str, str]:
        at = (now or dt.datetime.now(dt.UTC)).isoformat()
        return {"kind": kind, "at": at, **event_fields(event), **_flatten(extra)}

    def record(self, kind: str, event: Event | None = None, **extra: Any) -> str:
        values = self.fields(kind, event, **extra)
        try:
            entry = self.client.xadd(self.stream, values, maxlen=self.maxlen, approximate=True)  # type: ignore[arg-type]
        except redis.RedisError as e:
            raise TransientError(f"audit: Redis unreachable: {shorten(e)}") from e
        log.info("audit", **{k: v for k, v in values.items() if k != "at"})
        return keys.text(entry)

    def read(self, *, limit: int = 50, event_id: str | None = None, kinds: set[str] | None = None) -> list[Record]:
        """Newest ``limit`` records (filtered), returned oldest first."""
        out: list[Record] = []
        last = "+"
        batch = max(limit * 4, 200) if (event_id or kinds) else limit
        while len(out) < limit:
            rows: Any = self.client.xrevrange(self.stream, max=last, min="-", count=batch)
            if not rows:
                break
            for entry_id, raw in rows:
                rec = parse_record(entry_id, raw)
                if event_id and rec.event_id != event_id and rec.fields.get("correlation_id") != event_id:
                    continue
                if kinds and rec.kind not in kinds:
                    continue
                out.append(rec)
                if len(out) >= limit:
                    break
            last_id = keys.text(rows[-1][0])
            last = "(" + last_id
            if len(rows) < batch:
                break
        out.reverse()
        return out

    def since(self, start: dt.datetime, *, kinds: set[str] | None = None) -> list[Record]:
        """Every record at or after ``start``, oldest first."""
        min_id = f"{int(start.timestamp() * 1000)}-0"
        rows: Any = self.client.xrange(self.stream, min=min_id, max="+")
        recs = [parse_record(i, r) for i, r in rows]
        return [r for r in recs if not kinds or r.kind in kinds]

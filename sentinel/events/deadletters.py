"""Dead letters: every event whose handling failed for good, with its reason (Redis stream ``sentinel:dlq``)."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

import redis

from sentinel.errors import PermanentError, TransientError, shorten
from sentinel.events import keys
from sentinel.events.envelope import Event, parse


@dataclass(frozen=True)
class DeadLetter:
    id: str
    event: dict[str, Any]
    error: str
    message: str
    attempts: int
    task: str
    at: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "at": self.at,
            "task": self.task,
            "error": self.error,
            "message": self.message,
            "attempts": self.attempts,
            "event": self.event,
        }


class DeadLetters:
    def __init__(self, client: redis.Redis, *, maxlen: int = 100_000, stream: str = keys.DLQ) -> None:
        self.client = client
        self.maxlen = maxlen
        self.stream = stream

    def add(self, event: Event | dict[str, Any], *, error: BaseException, attempts: int, task: str) -> str:
        body = event.to_json() if isinstance(event, Event) else event
        values = {
            "event": json.dumps(body, sort_keys=True, default=str),
            "error": type(error).__name__,
            "message": shorten(error, 1000),
            "attempts": str(attempts),
            "task": task,
            "at": dt.datetime.now(dt.UTC).isoformat(),
        }
        try:
            return keys.text(self.client.xadd(self.stream, values, maxlen=self.maxlen, approximate=True))  # type: ignore[arg-type]
        except redis.RedisError as e:
            raise TransientError(f"dlq: Redis unreachable: {shorten(e)}") from e

    def _parse(self, entry_id: bytes | str, raw: dict[Any, Any]) -> DeadLetter:
        f = keys.hash_text(raw)
        return DeadLetter(
            id=keys.text(entry_id),
            event=json.loads(f.get("event", "{}")),
            error=f.get("error", "?"),
            message=f.get("message", ""),
            attempts=int(f.get("attempts", "0")),
            task=f.get("task", ""),
            at=f.get("at", ""),
        )

    def list(self, *, limit: int = 100) -> list[DeadLetter]:
        rows: Any = self.client.xrevrange(self.stream, count=limit)
        return [self._parse(i, r) for i, r in reversed(rows)]

    def get(self, entry_id: str) -> DeadLetter:
        rows: Any = self.client.xrange(self.stream, min=entry_id, max=entry_id)
        if not rows:
            raise PermanentError(f"no dead letter {entry_id!r} (see `sentinel dlq list`)")
        return self._parse(*rows[0])

    def event(self, entry_id: str) -> Event:
        return parse(self.get(entry_id).event)

    def remove(self, entry_id: str) -> bool:
        return bool(self.client.xdel(self.stream, entry_id))

    def __len__(self) -> int:
        return int(self.client.xlen(self.stream))

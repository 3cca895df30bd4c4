"""Redis key names, in one place."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping
from typing import Any

PREFIX = "sentinel"
AUDIT = f"{PREFIX}:audit"
DLQ = f"{PREFIX}:dlq"
_NS = uuid.UUID("6f1c8a52-3c4e-4b8e-9a0e-5e7d2f1b9c11")


def dedup(source: str, event_id: str) -> str:
    digest = hashlib.sha256(f"{source}\x00{event_id}".encode()).hexdigest()[:40]
    return f"{PREFIX}:dedup:{digest}"


def task_id(source: str, event_id: str) -> str:
    """The Celery task id of an event: the same event always maps to the same task id."""
    return str(uuid.uuid5(_NS, f"{source}\x00{event_id}"))


def text(value: bytes | str) -> str:
    """A Redis reply (bytes, or str on a decode_responses client) as str."""
    return value.decode() if isinstance(value, bytes) else value


def hash_text(raw: Mapping[Any, Any]) -> dict[str, str]:
    """A Redis hash or stream entry with every field and value as str."""
    return {text(k): text(v) for k, v in raw.items()}


def effect(name: str) -> str:
    return f"{PREFIX}:effect:{name}"

"""Per-cluster power state, snapshots, intents and keep-awake leases, kept in Redis (outside the cluster).

- state: ``awake | sleeping | asleep | waking | degraded`` (``unknown`` before Sentinel first acts);
- snapshot: the awake sizes, versioned (the last few versions are kept);
- intent: the latest sleep/wake request, ordered by the request's time — whoever holds the cluster lock
  carries it out, so the final state matches the last request;
- lease: keep-awake until a time.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

import redis

from sentinel.errors import TransientError, shorten
from sentinel.events import keys
from sentinel.ops.guards import Lease
from sentinel.ops.plans import Snapshot

STATES = ("awake", "sleeping", "asleep", "waking", "degraded")
HISTORY = 10

# Record an intent only if it is not older than the current one. KEYS: intent hash, seq counter.
# ARGV: action, event_id, time (epoch µs), iso time, meta JSON. Returns the intent's seq (new or current).
_INTENT = """
local cur_t = tonumber(redis.call('HGET', KEYS[1], 't') or '-1')
local cur_id = redis.call('HGET', KEYS[1], 'event_id')
if cur_id == ARGV[2] then return tonumber(redis.call('HGET', KEYS[1], 'seq')) end
if tonumber(ARGV[3]) < cur_t then return -tonumber(redis.call('HGET', KEYS[1], 'seq')) end
local seq = redis.call('INCR', KEYS[2])
redis.call('HSET', KEYS[1], 'action', ARGV[1], 'event_id', ARGV[2], 't', ARGV[3], 'at', ARGV[4], 'seq', seq,
           'meta', ARGV[5])
return seq
"""


@dataclass(frozen=True)
class Intent:
    action: str
    event_id: str
    at: dt.datetime
    seq: int
    meta: dict[str, Any]


@dataclass(frozen=True)
class PowerState:
    state: str
    since: dt.datetime | None
    event_id: str | None = None
    reason: str | None = None


class PowerStore:
    def __init__(self, client: redis.Redis, cluster: str) -> None:
        self.client = client
        self.cluster = cluster
        base = f"sentinel:cluster:{cluster}"
        self.k_state = f"{base}:state"
        self.k_snapshot = f"{base}:snapshot"
        self.k_snapshots = f"{base}:snapshots"
        self.k_intent = f"{base}:intent"
        self.k_seq = f"{base}:intent_seq"
        self.k_done = f"{base}:done_seq"
        self.k_lease = f"{base}:lease"
        self.k_lock = f"{base}:lock"
        self._intent = client.register_script(_INTENT)

    def _wrap(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except redis.RedisError as e:
            raise TransientError(f"state store: {what}: {shorten(e)}") from e

    # --- state ---------------------------------------------------------------------------------------------
    def state(self) -> PowerState:
        raw = self._wrap("read state", self.client.hgetall, self.k_state)
        if not raw:
            return PowerState("unknown", None)
        d = keys.hash_text(raw)
        return PowerState(
            d.get("state", "unknown"),
            dt.datetime.fromisoformat(d["since"]) if d.get("since") else None,
            d.get("event_id"),
            d.get("reason") or None,
        )

    def set_state(self, state: str, *, now: dt.datetime, event_id: str | None = None, reason: str = "") -> bool:
        """Set the power state; ``True`` if it changed."""
        assert state in STATES, state
        prev = self.state()
        since = now if prev.state != state else (prev.since or now)
        mapping = {"state": state, "since": since.isoformat(), "event_id": event_id or "", "reason": reason}
        self._wrap("write state", self.client.hset, self.k_state, mapping=mapping)
        return prev.state != state

    # --- snapshot ------------------------------------------------------------------------------------------
    def snapshot(self) -> Snapshot | None:
        raw = self._wrap("read snapshot", self.client.get, self.k_snapshot)
        return Snapshot.from_dict(json.loads(raw)) if raw else None

    def save_snapshot(self, snap: Snapshot) -> None:
        body = json.dumps(snap.as_dict(), sort_keys=True)
        pipe = self.client.pipeline(transaction=True)
        pipe.set(self.k_snapshot, body)
        pipe.lpush(self.k_snapshots, body)
        pipe.ltrim(self.k_snapshots, 0, HISTORY - 1)
        self._wrap("write snapshot", pipe.execute)

    def snapshots(self) -> list[Snapshot]:
        rows = self._wrap("read snapshots", self.client.lrange, self.k_snapshots, 0, -1)
        return [Snapshot.from_dict(json.loads(r)) for r in rows]

    # --- intents -------------------------------------------------------------------------------------------
    def record_intent(
        self, action: str, *, event_id: str, at: dt.datetime, meta: dict[str, Any] | None = None
    ) -> tuple[Intent, bool]:
        """Record a request; returns the current intent and whether this request is (still) the latest."""
        t = int(at.timestamp() * 1_000_000)
        seq = int(self._wrap("record intent", self._intent, keys=[self.k_intent, self.k_seq],
                             args=[action, event_id, t, at.isoformat(), json.dumps(meta or {}, default=str)]))
        cur = self.intent()
        assert cur is not None
        return cur, seq > 0

    def intent(self) -> Intent | None:
        raw = self._wrap("read intent", self.client.hgetall, self.k_intent)
        if not raw:
            return None
        d = keys.hash_text(raw)
        meta = json.loads(d.get("meta") or "{}")
        return Intent(d["action"], d["event_id"], dt.datetime.fromisoformat(d["at"]), int(d["seq"]), meta)

    def done_seq(self) -> int:
        return int(self._wrap("read done", self.client.get, self.k_done) or 0)

    def mark_done(self, seq: int) -> None:
        # never move backwards
        self._wrap("mark done", self.client.eval,
                   "if tonumber(redis.call('GET', KEYS[1]) or '0') < tonumber(ARGV[1]) then "
                   "redis.call('SET', KEYS[1], ARGV[1]) end return 1", 1, self.k_done, seq)

    def pending(self) -> Intent | None:
        """The latest intent if nobody has carried it out yet."""
        cur = self.intent()
        return cur if cur is not None and cur.seq > self.done_seq() else None

    # --- keep-awake lease ----------------------------------------------------------------------------------
    def lease(self) -> Lease | None:
        raw = self._wrap("read lease", self.client.hgetall, self.k_lease)
        if not raw:
            return None
        d = keys.hash_text(raw)
        return Lease(dt.datetime.fromisoformat(d["until"]), d.get("requested_by") or None, d.get("reason") or None)

    def set_lease(self, lease: Lease, *, now: dt.datetime) -> None:
        ttl = max(1, int((lease.until - now).total_seconds()) + 1)
        pipe = self.client.pipeline(transaction=True)
        pipe.delete(self.k_lease)
        pipe.hset(self.k_lease, mapping={"until": lease.until.isoformat(), "requested_by": lease.requested_by or "",
                                         "reason": lease.reason or ""})
        pipe.expire(self.k_lease, ttl)
        self._wrap("write lease", pipe.execute)

    def clear_lease(self) -> None:
        self._wrap("clear lease", self.client.delete, self.k_lease)

"""``Bus.publish(event)``: validate → dedup on (source, id) → audit → send the task for its type on its queue.

The bus never loses an event silently: when Redis is unreachable, or the task cannot be enqueued, it raises
``TransientError`` and releases its dedup claim so a retry of the same event goes through. The claim is taken
for :data:`PENDING_TTL` only and extended to the dedup TTL once the task is enqueued: a publisher that dies in
between (SIGKILL, OOM) leaves a claim that lapses in minutes, so the source's redelivery of the event is
accepted rather than dropped as a duplicate for a day.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import redis

from sentinel import logs
from sentinel.errors import PermanentError, TransientError, shorten
from sentinel.events import keys, types
from sentinel.events.audit import Audit
from sentinel.events.envelope import Event

log = logs.get("sentinel.bus")

PENDING_TTL = 120.0
"""Seconds a claim lives until its task is enqueued (well above Celery's publish retries and timeouts)."""

# SET NX + the audit record in one round trip, atomically: KEYS = dedup key, audit stream;
# ARGV = ttl_ms, maxlen, then the audit fields (without "kind") as name/value pairs.
_CLAIM = """
local ok = redis.call('SET', KEYS[1], ARGV[3], 'NX', 'PX', ARGV[1])
local kind = 'duplicate'
if ok then kind = 'accepted' end
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], '*', 'kind', kind, unpack(ARGV, 4))
if ok then return 1 end
return 0
"""


class Sender(Protocol):
    """Enqueues a task by name (the Celery app's ``send_task``, wrapped in ``sentinel.workers``)."""

    def __call__(
        self, task: str, *, event: dict[str, Any], queue: str, task_id: str, headers: dict[str, str]
    ) -> None: ...


@dataclass(frozen=True)
class Published:
    event_id: str
    accepted: bool
    task_id: str
    type: str

    @property
    def status(self) -> str:
        return "accepted" if self.accepted else "duplicate"


class Bus:
    def __init__(self, client: redis.Redis, *, send: Sender, audit: Audit, dedup_ttl: float = 86400.0) -> None:
        self.client = client
        self.send = send
        self.audit = audit
        self.dedup_ttl = dedup_ttl
        self._claim = client.register_script(_CLAIM)

    def publish(self, event: Event) -> Published:
        """Accept ``event`` once; a repeat of the same (source, id) within the TTL is a duplicate."""
        try:
            r = types.route(event.type)
            types.parse_data(event)
        except PermanentError as e:
            self.audit.record("rejected", event, reason=str(e))
            raise
        dedup_key = keys.dedup(event.source, event.id)
        task_id = keys.task_id(event.source, event.id)
        fields = self.audit.fields("accepted", event, task=r.task, queue=r.queue)
        fields.pop("kind")
        pending_ms = int(min(self.dedup_ttl, PENDING_TTL) * 1000)
        argv: list[str] = [str(pending_ms), str(self.audit.maxlen), task_id]
        for k, v in fields.items():
            argv += [k, v]
        try:
            fresh = bool(self._claim(keys=[dedup_key, self.audit.stream], args=argv))
        except redis.RedisError as e:
            raise TransientError(f"bus: Redis unreachable, event {event.id} not published: {shorten(e)}") from e
        if not fresh:
            log.info("audit", kind="duplicate", event_id=event.id, source=event.source, type=event.type)
            return Published(event.id, False, task_id, event.type)
        log.info(
            "audit",
            kind="accepted",
            event_id=event.id,
            source=event.source,
            type=event.type,
            correlation_id=event.correlation_id,
            task=r.task,
            queue=r.queue,
        )
        self._enqueue(event, r, task_id, dedup_key)
        self._confirm(event, dedup_key)
        return Published(event.id, True, task_id, event.type)

    def _confirm(self, event: Event, dedup_key: str) -> None:
        """The task is enqueued: the claim now lasts the whole dedup TTL."""
        if self.dedup_ttl <= PENDING_TTL:
            return
        try:
            self.client.pexpire(dedup_key, int(self.dedup_ttl * 1000))
        except redis.RedisError as e:  # enqueued all the same; a repeat after PENDING_TTL would run it again
            log.warning("bus.claim_not_extended", event_id=event.id, reason=shorten(e))

    def replay(self, event: Event, *, reason: str) -> str:
        """Enqueue ``event`` again, bypassing dedup (a dead letter being replayed by an operator)."""
        r = types.route(event.type)
        task_id = keys.task_id(event.source, event.id) + "-r" + keys.dedup(reason, event.id)[-8:]
        self.audit.record("replayed", event, reason=reason, task=r.task, queue=r.queue)
        self._enqueue(event, r, task_id, None)
        return task_id

    def _enqueue(self, event: Event, r: types.Route, task_id: str, dedup_key: str | None) -> None:
        try:
            self.send(
                r.task,
                event=event.to_json(),
                queue=r.queue,
                task_id=task_id,
                headers={"correlation_id": event.correlation_id, "event_id": event.id},
            )
        except Exception as e:
            # Nothing was enqueued: release the claim so the same event can be published again.
            try:
                if dedup_key:
                    self.client.delete(dedup_key)
                self.audit.record("rejected", event, reason=f"enqueue failed: {shorten(e)}")
            except (redis.RedisError, TransientError):
                pass
            raise TransientError(f"bus: could not enqueue event {event.id}: {shorten(e)}") from e

"""Wiring in one place: the Redis client, audit, dead letters, the bus and the Celery app for a config."""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import redis
from celery import Celery

from sentinel.config import Config
from sentinel.events.audit import Audit
from sentinel.events.bus import Bus
from sentinel.events.deadletters import DeadLetters
from sentinel.events.envelope import Event
from sentinel.ops.context import Context
from sentinel.workers.app import make_app


@dataclass
class Runtime:
    cfg: Config
    client: redis.Redis
    app: Celery
    audit: Audit
    dlq: DeadLetters
    bus: Bus
    env: Mapping[str, str] = field(default_factory=dict)
    _adapters: dict[str, Any] = field(default_factory=dict)

    def context(self, event: Event, *, attempt: int, task: str) -> Context:
        return Context(
            cfg=self.cfg,
            redis=self.client,
            audit=self.audit,
            bus=self.bus,
            event=event,
            attempt=attempt,
            task=task,
            env=self.env,
            connect=self.connect,
            later=self.later,
        )

    def later(self, event: Event, delay: float) -> None:
        """Enqueue ``event``'s task again after ``delay`` seconds (capped below the visibility timeout)."""
        from sentinel.events import keys, types

        r = types.route(event.type)
        delay = min(delay, self.cfg.broker_visibility_timeout / 2)
        send_task(self.app, r.task, event=event.to_json(), queue=r.queue, task_id=keys.task_id(event.source, event.id),
                  headers={"correlation_id": event.correlation_id, "event_id": event.id}, countdown=delay)
        self.audit.record("recheck_scheduled", event, delay_s=round(delay, 1), task=r.task)

    def connect(self, cluster: str) -> Any:
        from sentinel.ops import adapters  # imported on first use: boto3/kubernetes are heavy

        key = cluster
        if key not in self._adapters:
            self._adapters[key] = adapters.connect(self.cfg.cluster(cluster), env=self.env, ml=self.cfg.ml)
        return self._adapters[key]


def send_task(
    app: Celery, task: str, *, event: dict[str, Any], queue: str, task_id: str, headers: dict[str, str],
    countdown: float | None = None,
) -> None:
    """The one way an event's task is enqueued (by the bus, and again later by a deferred playbook)."""
    app.send_task(
        task,
        args=[event],
        queue=queue,
        task_id=task_id,
        headers=headers,
        countdown=countdown,
        # Celery would saferepr() the whole event for its log header: name it instead (and keep data out of logs)
        argsrepr=f"[event {headers.get('event_id', '?')}]",
        kwargsrepr="{}",
        # by name, Celery cannot see the task's ignore_result and would subscribe the publisher to a result channel
        # for every event (and unsubscribe when the AsyncResult is collected): the audit stream is the result
        ignore_result=True,
        retry=True,
        retry_policy={"max_retries": 3, "interval_start": 0.2, "interval_step": 0.5, "interval_max": 2},
    )


def build(cfg: Config, *, env: Mapping[str, str] | None = None) -> Runtime:
    client = redis.Redis.from_url(cfg.redis_url, socket_timeout=10, socket_connect_timeout=5, health_check_interval=30)
    app = make_app(cfg)
    audit = Audit(client, maxlen=cfg.audit_maxlen)
    bus = Bus(client, send=functools.partial(send_task, app), audit=audit, dedup_ttl=cfg.dedup_ttl)
    return Runtime(
        cfg=cfg,
        client=client,
        app=app,
        audit=audit,
        dlq=DeadLetters(client, maxlen=cfg.dlq_maxlen),
        bus=bus,
        env=dict(os.environ if env is None else env),
    )


_current: Runtime | None = None


def install(rt: Runtime) -> Runtime:
    global _current
    _current = rt
    return rt


def current() -> Runtime:
    if _current is None:
        raise RuntimeError("no Sentinel runtime installed in this process (start workers with `sentinel worker`)")
    return _current

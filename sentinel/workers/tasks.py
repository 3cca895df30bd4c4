"""Thin tasks: validate the payload, hand it to its playbook, record what happened.

One task per event type (``sentinel.<area>.<verb>``, on the area's queue). ``TransientError`` is retried with
exponential backoff and jitter; ``PermanentError`` (and any unexpected error) is never retried: the event goes to
the dead-letter stream with its reason.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Mapping
from typing import Any

from celery import Celery, Task, signals

from sentinel import logs
from sentinel.errors import PermanentError, TransientError, shorten
from sentinel.events import envelope, types
from sentinel.workers import handlers, runtime

log = logs.get("sentinel.task")


def _event_of(args: tuple[Any, ...] | list[Any]) -> dict[str, Any]:
    return args[0] if args and isinstance(args[0], dict) else {"raw": shorten(args, 500)}


def _parsed(args: tuple[Any, ...] | list[Any]) -> envelope.Event | None:
    try:
        return envelope.parse(_event_of(args))
    except PermanentError:
        return None


class EventTask(Task):  # type: ignore[misc]
    """Audit and dead-letter hooks shared by every event task."""

    typing = False

    def _event(self, args: Any) -> envelope.Event | None:
        """The event ``handle`` parsed for this request (parsed again only if it never got that far)."""
        ev = getattr(self.request, "sentinel_event", None)
        return ev if isinstance(ev, envelope.Event) else _parsed(args)

    def on_success(self, retval: Any, task_id: str, args: Any, kwargs: Any) -> None:
        """The canonical line of the unit of work: what ran, how long, what it returned."""
        rt = runtime.current()
        result = dict(retval) if isinstance(retval, Mapping) else {}
        started = getattr(self.request, "sentinel_started", None)
        duration = round((time.monotonic() - started) * 1000, 1) if started else None
        rt.audit.record("succeeded", self._event(args), task=self.name, attempt=self.request.retries + 1,
                        duration_ms=duration, result=result)

    def on_retry(self, exc: BaseException, task_id: str, args: Any, kwargs: Any, einfo: Any) -> None:
        rt = runtime.current()
        rt.audit.record(
            "retried",
            self._event(args),
            task=self.name,
            attempt=self.request.retries + 1,
            error=type(exc).__name__,
            reason=shorten(exc),
        )

    def on_failure(self, exc: BaseException, task_id: str, args: Any, kwargs: Any, einfo: Any) -> None:
        rt = runtime.current()
        ev = self._event(args)
        attempts = self.request.retries + 1
        dl_id = rt.dlq.add(ev or _event_of(args), error=exc, attempts=attempts, task=self.name)
        rt.audit.record(
            "dead_lettered",
            ev,
            task=self.name,
            attempts=attempts,
            error=type(exc).__name__,
            reason=shorten(exc),
            dlq_id=dl_id,
        )
        log.warning("task.dead_lettered", task=self.name, error=type(exc).__name__, reason=shorten(exc), dlq_id=dl_id)


def handle(task: Task, event: dict[str, Any]) -> Mapping[str, Any]:
    """The body of every event task."""
    task.request.sentinel_started = time.monotonic()
    rt = runtime.current()
    ev = envelope.parse(event)
    task.request.sentinel_event = ev
    data = types.parse_data(ev)
    attempt = task.request.retries + 1
    logs.bind(event_id=ev.id, correlation_id=ev.correlation_id, task=task.name, attempt=attempt)
    rt.audit.record("started", ev, task=task.name, attempt=attempt)
    handler = handlers.lookup(ev.type)
    return handler(rt.context(ev, attempt=attempt, task=task.name), data) or {}


def register(app: Celery) -> dict[str, Task]:
    """One task per route, with the retry policy from config."""
    rt_cfg = app.conf.get("sentinel_retry", {})
    out: dict[str, Task] = {}
    for route in {r.task: r for r in types.ROUTES.values()}.values():

        def body(self: Task, event: dict[str, Any]) -> Mapping[str, Any]:
            return handle(self, event)

        out[route.task] = app.task(
            name=route.task,
            bind=True,
            base=EventTask,
            queue=route.queue,
            autoretry_for=(TransientError,),
            dont_autoretry_for=(PermanentError,),
            retry_backoff=rt_cfg.get("backoff", 2.0),
            retry_backoff_max=rt_cfg.get("backoff_max", 300),
            retry_jitter=True,
            max_retries=rt_cfg.get("max_retries", 5),
            acks_late=True,
            reject_on_worker_lost=True,
        )(body)
    return out


@signals.task_prerun.connect
def _bind_context(
    task_id: str | None = None, task: Task | None = None, args: tuple[Any, ...] | None = None, **_: Any
) -> None:
    """Every log line of the task carries the event id, the correlation id and the task name."""
    logs.clear()
    if task is None:
        return
    event = _event_of(args or ())
    headers = getattr(task.request, "headers", None) or {}
    logs.bind(
        task=task.name,
        task_id=task_id,
        event_id=event.get("id"),
        correlation_id=event.get("correlationid") or headers.get("correlation_id") or event.get("id"),
    )


@signals.task_postrun.connect
def _clear_context(**_: Any) -> None:
    logs.clear()


@signals.worker_process_init.connect
def _freeze_startup_heap(**_: Any) -> None:
    """A prefork child starts with every module, the app and the config already on its heap: move them to the
    permanent generation, so the full collections a busy worker runs now and then do not walk them (shorter
    pauses in the latency tail, fewer copy-on-write pages touched after the fork)."""
    gc.freeze()

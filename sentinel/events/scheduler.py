"""The scheduler process: one APScheduler job per enabled schedule, each publishing its fire's event.

Replicas agree because everything an event carries comes from the *scheduled* fire time, which the trigger
computes (the executor hands it to the job), never from ``now()``: two replicas publish the same id and the
bus keeps one (it dedups on ``(source, id)``). On start the scheduler publishes :func:`schedules.catch_up`,
so a wake missed while it was down happens on start, once. A fire that runs later than ``misfire_grace``
(the process was paused or the host suspended) is replaced by the cluster's catch-up, so a stale sleep can
never win over a later wake.

``publish`` is injected (``sentinel.workers.bootstrap.make_bus(cfg).publish`` in production). Publishing is
retried a few times: ids are deterministic, so a retry after a lost reply is deduplicated, not repeated.
"""

from __future__ import annotations

import concurrent.futures
import datetime as dt
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import structlog
from apscheduler.executors.pool import BasePoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.base import BaseTrigger

from sentinel.config import Config, Schedule
from sentinel.events import schedules
from sentinel.events.envelope import Event, utcnow

log = structlog.get_logger(__name__)

MISFIRE_GRACE = 600.0
"""Seconds a fire may run late and still publish its own event; later, the cluster's catch-up is published."""
RETRY_DELAYS = (1.0, 5.0, 15.0)

Publish = Callable[[Event], object]
Clock = Callable[[], dt.datetime]


class ScheduleTrigger(BaseTrigger):
    """APScheduler trigger over :func:`schedules.next_occurrence` (crontab weekdays, DST-safe, monotonic).

    Skip dates are not left out here: the job checks them at fire time, so the skip shows in the log.
    """

    __slots__ = ("schedule",)

    def __init__(self, schedule: Schedule) -> None:
        self.schedule = schedule

    def get_next_fire_time(self, previous_fire_time: dt.datetime | None, now: dt.datetime) -> dt.datetime | None:
        after = previous_fire_time if previous_fire_time is not None else now - dt.timedelta(microseconds=1)
        return schedules.next_occurrence(self.schedule, after=after, skipped=True)

    def __str__(self) -> str:
        return f"cron[{self.schedule.cron!r} {self.schedule.timezone}]"


class ScheduledTimeExecutor(BasePoolExecutor):
    """A thread pool that calls ``func(*args, run_time=…)``: the job learns the fire time its trigger computed."""

    def __init__(self, max_workers: int = 4) -> None:
        super().__init__(concurrent.futures.ThreadPoolExecutor(max_workers, thread_name_prefix="sentinel-sched"))

    def _do_submit_job(self, job: Any, run_times: list[dt.datetime]) -> None:
        def run() -> list[Any]:
            for run_time in run_times:
                job.func(*job.args, run_time=run_time, **job.kwargs)
            return []

        def done(f: concurrent.futures.Future[list[Any]]) -> None:
            exc = f.exception()
            if exc is not None:
                self._run_job_error(job.id, exc, exc.__traceback__)
            else:
                self._run_job_success(job.id, [])

        self._pool.submit(run).add_done_callback(done)


class Scheduler:
    """``start()`` publishes the catch-up and starts the jobs; ``run()`` does that and blocks until ``stop()``."""

    def __init__(
        self,
        cfg: Config,
        *,
        publish: Publish,
        clock: Clock = utcnow,
        trigger: Callable[[Schedule], BaseTrigger] = ScheduleTrigger,
        misfire_grace: float = MISFIRE_GRACE,
        retry_delays: Sequence[float] = RETRY_DELAYS,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        schedules.validate(cfg.schedules)
        self.cfg = cfg
        self._publish = publish
        self._clock = clock
        self._trigger = trigger
        self._grace = dt.timedelta(seconds=misfire_grace)
        self._retry_delays = tuple(retry_delays)
        self._sleep = sleep
        self._stopped = threading.Event()
        self._aps = BackgroundScheduler(
            timezone=dt.UTC,
            executors={"default": ScheduledTimeExecutor()},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
        )
        for s in cfg.schedules:
            if s.enabled:
                self._aps.add_job(self._job, self._trigger(s), args=(s,), id=s.name, name=s.name)

    # -- lifecycle ------------------------------------------------------------------------------------------

    def start(self) -> list[Event]:
        """Start the jobs, then publish the catch-up for every cluster; returns the catch-up events.

        Jobs first: a fire landing while we start is then both run and in the catch-up (same id, kept once),
        never in neither.
        """
        self._aps.start()
        events = schedules.catch_up(self.cfg, now=self._clock())
        for e in events:
            self._send(e, reason="catch-up")
        log.info("scheduler.started", jobs=self.next_runs(), catch_up=[e.id for e in events])
        return events

    def stop(self) -> None:
        self._stopped.set()
        if self._aps.running:
            self._aps.shutdown(wait=True)

    def run(self) -> None:
        """Start and block until :meth:`stop` (from a signal handler or another thread) or Ctrl-C."""
        self.start()
        try:
            while not self._stopped.wait(1.0):
                pass
        except KeyboardInterrupt:
            pass
        finally:
            self.stop()

    def next_runs(self) -> dict[str, str | None]:
        return {
            j.id: j.next_run_time.isoformat() if getattr(j, "next_run_time", None) else None
            for j in self._aps.get_jobs()
        }

    # -- one fire ---------------------------------------------------------------------------------------------

    def _job(self, schedule: Schedule, *, run_time: dt.datetime | None = None) -> None:
        if run_time is None:
            raise RuntimeError("scheduler jobs must run on ScheduledTimeExecutor (it passes run_time)")
        self.fire(schedule, run_time)

    def fire(self, schedule: Schedule, run_time: dt.datetime) -> Event | None:
        """A job's body: publish the event for ``run_time`` (the scheduled time), unless skipped or stale."""
        local = run_time.astimezone(schedules.zone(schedule))
        if schedule.skips(local.date()):
            log.info("schedule.skipped", schedule=schedule.name, cluster=schedule.cluster, fire_time=local.isoformat())
            return None
        late = self._clock() - run_time
        if late > self._grace:
            decision = schedules.desired_state(schedules.for_cluster(self.cfg, schedule.cluster), now=self._clock())
            log.warning(
                "schedule.late", schedule=schedule.name, fire_time=local.isoformat(), late_s=late.total_seconds()
            )
            if decision is None:
                return None
            event = schedules.make_event(decision.schedule, decision.fire_time)
            self._send(event, reason="late")
            return event
        event = schedules.make_event(schedule, run_time)
        self._send(event, reason="fire")
        return event

    def _current(self, event: Event) -> bool:
        """Is a catch-up event still what its cluster's schedules say now? (A retry must not publish a stale one.)"""
        d = schedules.desired_state(schedules.for_cluster(self.cfg, event.subject or ""), now=self._clock())
        return d is not None and schedules.event_id(d.schedule, d.fire_time) == event.id

    def _send(self, event: Event, *, reason: str) -> None:
        delays = (*self._retry_delays, None)
        for attempt, delay in enumerate(delays, start=1):
            if attempt > 1 and reason != "fire" and not self._current(event):
                log.info("schedule.superseded", event_id=event.id, reason=reason)
                return
            try:
                result = self._publish(event)
            except Exception as e:
                if delay is None or self._stopped.is_set():
                    log.error("schedule.publish_failed", event_id=event.id, attempts=attempt, error=str(e)[:300])
                    return
                log.warning("schedule.publish_retry", event_id=event.id, attempt=attempt, error=str(e)[:300])
                self._sleep(delay)
                continue
            log.info(
                "schedule.published",
                event_id=event.id,
                type=event.type,
                cluster=event.subject,
                reason=reason,
                accepted=getattr(result, "accepted", None),
            )
            return

"""Pure schedule logic: when a schedule fires, what the schedules say a cluster should be now, and its events.

Every function takes the clock as an argument and returns data; APScheduler 3.x's ``CronTrigger`` does the
cron arithmetic. Two things are fixed on top of it so that two replicas, a restart and a DST change all agree:

* **Weekdays are crontab's**: ``0``/``7`` is Sunday, ``1-5`` is Monday to Friday (APScheduler 3.x counts
  ``0`` as Monday; numeric day-of-week fields are translated to names before they reach it).
* **Day of month OR day of week**: when both fields are restricted (neither starts with ``*``), the cron
  fires on a day matching *either*, as crontab(5) says (``0 20 1 * mon`` = the 1st and every Monday);
  APScheduler alone would require both. Built as an ``OrTrigger`` of the two ``CronTrigger`` halves.
* **DST**: a wall-clock time skipped by a spring-forward (02:30 on that day) fires once, at the first real
  instant after the gap (03:30 new time); a wall-clock time repeated by a fall-back (01:30) fires once, on its
  first occurrence — unless the hour field is ``*``, where every real instant fires (as Vixie cron does).

Skip dates and ranges are evaluated on the *local* date of the fire in the schedule's own timezone.
All returned times are timezone-aware, in the schedule's timezone (normalised to real wall-clock time).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Literal
from zoneinfo import ZoneInfo

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.combining import OrTrigger
from apscheduler.triggers.cron import CronTrigger

from sentinel.config import Config, Schedule
from sentinel.errors import ConfigError
from sentinel.events import types
from sentinel.events.envelope import Event

SOURCE = "sentinel/scheduler"
LOOKBACK = dt.timedelta(days=8)
"""How far back :func:`desired_state` looks for the fire that decides a cluster's state."""
HORIZON = dt.timedelta(days=400)
"""How far ahead :func:`next_fire` searches (a long skip range still finds the next fire)."""

_UTC = dt.UTC
_SLACK = dt.timedelta(hours=3)  # more than any DST shift: scans start this much early, then filter
_TINY = dt.timedelta(microseconds=1)
_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
_TYPES = {"sleep": types.SLEEP, "wake": types.WAKE}


@dataclass(frozen=True)
class Fire:
    """One occurrence of a schedule's cron; ``skipped`` when its local date is a skip date or in a skip range."""

    schedule: Schedule
    time: dt.datetime
    skipped: bool


@dataclass(frozen=True)
class Decision:
    """What the schedules say a cluster should be: the latest non-skipped fire at or before ``now``."""

    cluster: str
    action: Literal["sleep", "wake"]
    schedule: Schedule
    fire_time: dt.datetime


def zone(schedule: Schedule) -> ZoneInfo:
    return ZoneInfo(schedule.timezone)


def crontab_dow(field: str) -> str:
    """A crontab day-of-week field (``0``/``7`` = Sunday) as APScheduler 3.x names: ``1-5`` → ``mon,…,fri``."""
    if not any(c.isdigit() for c in field) or field == "*":
        return field
    days: set[int] = set()
    for part in field.split(","):
        rng, _, step_s = part.partition("/")
        step = int(step_s) if step_s else 1
        if step < 1:
            raise ValueError(f"day-of-week step must be positive in {field!r}")
        if rng == "*":
            lo, hi = 0, 6
        elif "-" in rng:
            a, b = rng.split("-", 1)
            lo, hi = _day(a), _day(b)
        else:
            lo = _day(rng)
            hi = 6 if step_s else lo
        if lo > hi:
            raise ValueError(f"day-of-week range {rng!r} runs backwards")
        days.update(d % 7 for d in range(lo, hi + 1, step))
    return ",".join(_DAYS[d] for d in sorted(days))


def _day(token: str) -> int:
    t = token.strip().lower()
    if t.isdigit() and 0 <= int(t) <= 7:
        return int(t)
    if t[:3] in _DAYS:
        return _DAYS.index(t[:3])
    raise ValueError(f"{token!r} is not a day of the week (0-7 or sun-sat)")


def trigger(schedule: Schedule, *, end: dt.datetime | None = None) -> BaseTrigger:
    """The APScheduler trigger for the cron (crontab weekdays, DOM-or-DOW); a bad expression is a ``ConfigError``."""
    minute, hour, day, month, dow = schedule.cron.split()

    def cron(day: str, dow: str) -> CronTrigger:
        return CronTrigger(
            minute=minute,
            hour=hour,
            day=day,
            month=month,
            day_of_week=crontab_dow(dow),
            timezone=zone(schedule),
            end_date=end,
        )

    try:
        if not day.startswith("*") and not dow.startswith("*"):
            return OrTrigger([cron(day, "*"), cron("*", dow)])
        return cron(day, dow)
    except ValueError as e:
        raise ConfigError(f"schedule {schedule.name!r}: cron {schedule.cron!r}: {e}") from None


def validate(schedules: Iterable[Schedule]) -> None:
    """Raise ``ConfigError`` for the first schedule whose cron APScheduler refuses."""
    for s in schedules:
        trigger(s)


def _aware(name: str, value: dt.datetime) -> dt.datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got {value!r}")
    return value


def _repeated(local: dt.datetime) -> bool:
    """True for the second occurrence of a wall-clock time that a fall-back repeats."""
    return local.fold == 1 and local.replace(fold=0).utcoffset() != local.utcoffset()


def _scan(schedule: Schedule, start: dt.datetime, end: dt.datetime) -> Iterator[Fire]:
    """Every cron occurrence in ``[start, end]``, skipped ones included, ignoring ``enabled``."""
    tz = zone(schedule)
    fixed_hour = schedule.cron.split()[1] != "*"
    trig = trigger(schedule, end=end + dt.timedelta(days=1))
    cursor = (start - _SLACK).astimezone(tz)
    last: dt.datetime | None = None
    while True:
        nxt = trig.get_next_fire_time(None, cursor)
        if nxt is None:
            return
        at = nxt.astimezone(_UTC)  # a time inside a spring-forward gap becomes the real instant after it
        if at > end:
            return
        cursor = (at + _TINY).astimezone(tz)
        if last is not None and at <= last:
            continue
        last = at
        local = at.astimezone(tz)
        if fixed_hour and _repeated(local):
            continue
        if at >= start:
            yield Fire(schedule=schedule, time=local, skipped=schedule.skips(local.date()))


def occurrences(schedule: Schedule, *, start: dt.datetime, end: dt.datetime) -> list[Fire]:
    """Cron occurrences in ``[start, end]`` (both inclusive), each marked skipped or not (``show`` lists these)."""
    return list(_scan(schedule, _aware("start", start), _aware("end", end)))


def fire_times(schedule: Schedule, *, start: dt.datetime, end: dt.datetime) -> list[dt.datetime]:
    """When the schedule fires in ``[start, end]``: skip dates/ranges left out; none if disabled."""
    if not schedule.enabled:
        return []
    return [f.time for f in occurrences(schedule, start=start, end=end) if not f.skipped]


def next_occurrence(schedule: Schedule, *, after: dt.datetime, skipped: bool = False) -> dt.datetime | None:
    """The first cron occurrence strictly after ``after`` (within :data:`HORIZON`); ignores ``enabled``.

    ``skipped=True`` also returns occurrences on skip dates (the runner's trigger checks skips at fire time).
    """
    _aware("after", after)
    start, step = after + _TINY, dt.timedelta(days=1)
    while start - after < HORIZON:
        end = start + step
        for f in _scan(schedule, start, end):
            if skipped or not f.skipped:
                return f.time
        start, step = end + _TINY, min(step * 4, HORIZON)
    return None


def next_fire(schedule: Schedule, *, after: dt.datetime) -> dt.datetime | None:
    """The first non-skipped fire strictly after ``after``; ``None`` if disabled or nothing within a year-ish."""
    if not schedule.enabled:
        return None
    return next_occurrence(schedule, after=after)


def last_fire(
    schedule: Schedule, *, at_or_before: dt.datetime, lookback: dt.timedelta = LOOKBACK
) -> dt.datetime | None:
    """The latest non-skipped fire in ``[at_or_before - lookback, at_or_before]``; ``None`` if disabled or none."""
    _aware("at_or_before", at_or_before)
    if not schedule.enabled:
        return None
    end, width = at_or_before, dt.timedelta(hours=1)
    floor = at_or_before - lookback
    while end > floor:  # widening windows: a per-minute cron does not scan 8 days of minutes
        start = max(end - width, floor)
        fires = [f.time for f in _scan(schedule, start, end) if not f.skipped]
        if fires:
            return fires[-1]
        end, width = start - _TINY, width * 8
    return None


def event_id(schedule: Schedule, fire_time: dt.datetime) -> str:
    """``<schedule>@<fire time, UTC, ISO>``: every replica, and every restart, derives the same id."""
    at = _aware("fire_time", fire_time).astimezone(_UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    eid = f"{schedule.name}@{at}"
    if len(eid) > 200:
        eid = f"{hashlib.sha256(schedule.name.encode()).hexdigest()[:32]}@{at}"
    return eid


def make_event(schedule: Schedule, fire_time: dt.datetime) -> Event:
    """The ``sentinel.schedule.sleep|wake`` event for one fire; identical on every replica."""
    at = _aware("fire_time", fire_time).astimezone(_UTC)
    data = types.PowerData(cluster=schedule.cluster, schedule=schedule.name, fire_time=at, requested_by=SOURCE)
    return Event(
        id=event_id(schedule, at),
        source=SOURCE,
        type=_TYPES[schedule.action],
        time=at,
        subject=schedule.cluster,
        data=data.model_dump(mode="json", exclude_none=True),
    )


def desired_state(
    schedules_for_cluster: Iterable[Schedule], *, now: dt.datetime, lookback: dt.timedelta = LOOKBACK
) -> Decision | None:
    """The latest non-skipped fire at or before ``now`` across the cluster's enabled schedules.

    ``None`` when nothing fired within ``lookback``. On a tie (a sleep and a wake at the same instant) the wake
    wins: a wrongly awake cluster costs money, a wrongly asleep one kills work.
    """
    best: tuple[dt.datetime, int, Schedule] | None = None
    for s in schedules_for_cluster:
        at = last_fire(s, at_or_before=now, lookback=lookback)
        if at is None:
            continue
        key = (at.astimezone(_UTC), 1 if s.action == "wake" else 0, s)
        if best is None or key[:2] > best[:2]:
            best = key
    if best is None:
        return None
    at, _, s = best
    return Decision(cluster=s.cluster, action=s.action, schedule=s, fire_time=at.astimezone(zone(s)))


def for_cluster(cfg: Config, cluster: str) -> list[Schedule]:
    return [s for s in cfg.schedules if s.cluster == cluster]


def catch_up(cfg: Config, *, now: dt.datetime) -> list[Event]:
    """One event per cluster for what its schedules say it should be now (a missed 07:30 wake, at 09:00).

    The id is the fire's own (:func:`event_id`), so a restart, or a second replica, repeats nothing.
    """
    events = []
    for cluster in cfg.clusters:
        d = desired_state(for_cluster(cfg, cluster), now=now)
        if d is not None:
            events.append(make_event(d.schedule, d.fire_time))
    return events

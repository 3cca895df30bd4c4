"""Schedules with fixed dates: cron + timezone, weekdays, DST both ways, skips, catch-up, ids, the runner's job."""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from typer.testing import CliRunner

from sentinel import config
from sentinel.cli import schedule as cli_schedule
from sentinel.errors import ConfigError
from sentinel.events import schedules, types
from sentinel.events.envelope import Event
from sentinel.events.scheduler import Scheduler, ScheduleTrigger

UTC = dt.UTC
SYD = ZoneInfo("Australia/Sydney")
NY = ZoneInfo("America/New_York")


def sched(cron: str, tz: str = "UTC", *, name: str = "s", action: str = "wake", **kw: Any) -> config.Schedule:
    return config.Schedule(name=name, cluster="training", action=action, cron=cron, timezone=tz, **kw)  # type: ignore[arg-type]


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def cfg_with(*extra: dict[str, Any], base: bool = True) -> config.Config:
    import yaml

    data = yaml.safe_load(config.EMBEDDED)
    if not base:
        data["schedules"] = []
    data["schedules"] += list(extra)
    return config.from_mapping(data, env={})


WAKE = sched("30 7 * * mon-fri", "Australia/Sydney", name="weekday-wake")
SLEEP = sched("0 20 * * mon-fri", "Australia/Sydney", name="weeknight-sleep", action="sleep")


# -- cron, timezone, weekdays -------------------------------------------------------------------------------


def test_weekday_wake_fires_at_local_time_on_weekdays_only() -> None:
    # Mon 2 June 2025 .. Sun 8 June 2025, Sydney (AEST, UTC+10): 07:30 local is 21:30 UTC the day before.
    got = schedules.fire_times(WAKE, start=dt.datetime(2025, 6, 2, tzinfo=SYD), end=dt.datetime(2025, 6, 9, tzinfo=SYD))
    assert [t.astimezone(UTC) for t in got] == [utc(2025, 6, d, 21, 30) for d in (1, 2, 3, 4, 5)]
    assert [t.strftime("%a %H:%M") for t in got] == ["Mon 07:30", "Tue 07:30", "Wed 07:30", "Thu 07:30", "Fri 07:30"]


@pytest.mark.parametrize(
    ("dow", "days"),
    [
        ("1-5", ["Mon", "Tue", "Wed", "Thu", "Fri"]),  # crontab numbering, not APScheduler 3.x's (0 = Monday)
        ("0", ["Sun"]),
        ("7", ["Sun"]),
        ("6,0", ["Sat", "Sun"]),
        ("*/2", ["Sun", "Tue", "Thu", "Sat"]),
        ("sat,sun", ["Sat", "Sun"]),
    ],
)
def test_day_of_week_follows_crontab(dow: str, days: list[str]) -> None:
    got = schedules.fire_times(sched(f"0 9 * * {dow}"), start=utc(2025, 6, 2), end=utc(2025, 6, 8, 23, 59))
    assert sorted(t.strftime("%a") for t in got) == sorted(days)


def test_day_of_month_and_day_of_week_both_set_fire_on_either_as_crontab_says() -> None:
    """crontab(5): ``0 20 1 * mon`` runs on the 1st *and* on every Monday (June 2025: Sun 1st, Mondays 2, 9, …)."""
    got = schedules.fire_times(sched("0 20 1 * mon"), start=utc(2025, 6, 1), end=utc(2025, 6, 30, 23, 59))
    assert [t.day for t in got] == [1, 2, 9, 16, 23, 30]
    assert schedules.next_fire(sched("0 20 1 * mon"), after=utc(2025, 6, 30, 21)) == utc(2025, 7, 1, 20)


def test_a_starred_field_keeps_the_other_as_the_only_day_rule() -> None:
    """Only when both are restricted is it either-or: ``*/2`` in day-of-month counts as ``*`` (as in cron)."""
    got = schedules.fire_times(sched("0 9 */2 * mon"), start=utc(2025, 6, 1), end=utc(2025, 6, 30, 23, 59))
    assert [t.day for t in got] == [9, 23]  # Mondays on odd days of the month (1, 3, 5, …)
    got = schedules.fire_times(sched("0 9 15 * *"), start=utc(2025, 6, 1), end=utc(2025, 7, 31))
    assert [(t.month, t.day) for t in got] == [(6, 15), (7, 15)]


def test_bad_cron_is_a_config_error_naming_the_schedule() -> None:
    with pytest.raises(ConfigError, match=r"schedule 'bad': cron '61 \* \* \* \*'"):
        schedules.validate([sched("61 * * * *", name="bad")])


# -- DST ---------------------------------------------------------------------------------------------------


def test_spring_forward_fires_once_at_the_first_real_instant_after_the_gap() -> None:
    # New York, Sun 9 March 2025: 02:00 EST jumps to 03:00 EDT, so 02:30 does not exist that day.
    got = schedules.fire_times(sched("30 2 * * *", "America/New_York"), start=utc(2025, 3, 8), end=utc(2025, 3, 11))
    assert [t.isoformat() for t in got] == [
        "2025-03-08T02:30:00-05:00",
        "2025-03-09T03:30:00-04:00",
        "2025-03-10T02:30:00-04:00",
    ]


def test_spring_forward_sydney() -> None:
    # Sydney, Sun 5 October 2025: 02:00 AEST jumps to 03:00 AEDT.
    got = schedules.fire_times(sched("30 2 * * *", "Australia/Sydney"), start=utc(2025, 10, 3), end=utc(2025, 10, 6))
    assert [t.astimezone(UTC) for t in got] == [
        utc(2025, 10, 3, 16, 30),
        utc(2025, 10, 4, 16, 30),
        utc(2025, 10, 5, 15, 30),
    ]


@pytest.mark.parametrize(
    ("cron", "tz", "start", "end", "expected"),
    [
        # New York, Sun 2 Nov 2025: 02:00 EDT falls back to 01:00 EST; 01:30 happens twice, fires once (EDT).
        (
            "30 1 * * *",
            "America/New_York",
            utc(2025, 11, 1),
            utc(2025, 11, 4),
            [utc(2025, 11, 1, 5, 30), utc(2025, 11, 2, 5, 30), utc(2025, 11, 3, 6, 30)],
        ),
        # Sydney, Sun 6 April 2025: 03:00 AEDT falls back to 02:00 AEST; 02:30 happens twice, fires once.
        (
            "30 2 * * *",
            "Australia/Sydney",
            utc(2025, 4, 4),
            utc(2025, 4, 7),
            [utc(2025, 4, 4, 15, 30), utc(2025, 4, 5, 15, 30), utc(2025, 4, 6, 16, 30)],
        ),
    ],
)
def test_fall_back_fires_once(
    cron: str, tz: str, start: dt.datetime, end: dt.datetime, expected: list[dt.datetime]
) -> None:
    got = schedules.fire_times(sched(cron, tz), start=start, end=end)
    assert [t.astimezone(UTC) for t in got] == expected


def test_fall_back_window_starting_inside_the_repeat_does_not_fire_the_repeat() -> None:
    # Starting at 01:15 EST (the second 01:xx) must not produce a "new" 01:30 that already fired at 01:30 EDT.
    got = schedules.fire_times(
        sched("30 1 * * *", "America/New_York"), start=utc(2025, 11, 2, 6, 15), end=utc(2025, 11, 3)
    )
    assert got == []


def test_hourly_wildcard_fires_on_every_real_half_hour_through_fall_back() -> None:
    got = schedules.fire_times(
        sched("*/30 * * * *", "America/New_York"), start=utc(2025, 11, 2, 5), end=utc(2025, 11, 2, 7)
    )
    assert [t.astimezone(UTC) for t in got] == [
        utc(2025, 11, 2, 5),
        utc(2025, 11, 2, 5, 30),
        utc(2025, 11, 2, 6),
        utc(2025, 11, 2, 6, 30),
        utc(2025, 11, 2, 7),
    ]


def test_trigger_moves_forward_through_fall_back() -> None:
    # APScheduler 3.x's CronTrigger returns the same 01:30 EST again and again; ours must advance.
    trig = ScheduleTrigger(sched("30 1 * * *", "America/New_York"))
    prev = trig.get_next_fire_time(None, utc(2025, 11, 1, 12))
    seen = []
    for _ in range(3):
        seen.append(prev.astimezone(UTC))
        prev = trig.get_next_fire_time(prev, prev)
    assert seen == [utc(2025, 11, 2, 5, 30), utc(2025, 11, 3, 6, 30), utc(2025, 11, 4, 6, 30)]


# -- skips, enabled, next fire ---------------------------------------------------------------------------------


def test_skip_date_is_the_local_date_not_the_utc_one() -> None:
    # Thu 25 Dec 2025 07:30 AEDT is Wed 24 Dec 20:30 UTC: skipping 2025-12-25 must drop exactly that fire.
    s = WAKE.model_copy(update={"skip_dates": [dt.date(2025, 12, 25)]})
    got = schedules.fire_times(s, start=utc(2025, 12, 22), end=utc(2025, 12, 27))
    assert [t.date() for t in got] == [dt.date(2025, 12, 23), dt.date(2025, 12, 24), dt.date(2025, 12, 26)]


def test_skip_range_is_inclusive() -> None:
    s = WAKE.model_copy(
        update={"skip_ranges": [config.DateRange(start=dt.date(2025, 12, 24), end=dt.date(2026, 1, 2))]}
    )
    got = schedules.fire_times(s, start=utc(2025, 12, 21), end=utc(2026, 1, 5, 12))
    assert [t.date() for t in got] == [dt.date(2025, 12, 22), dt.date(2025, 12, 23), dt.date(2026, 1, 5)]


def test_next_fire_skips_weekend_and_skip_dates() -> None:
    fri_night = dt.datetime(2025, 6, 6, 20, 0, tzinfo=SYD)
    assert schedules.next_fire(WAKE, after=fri_night) == dt.datetime(2025, 6, 9, 7, 30, tzinfo=SYD)  # Monday
    s = WAKE.model_copy(update={"skip_dates": [dt.date(2025, 6, 9)]})  # King's Birthday
    assert schedules.next_fire(s, after=fri_night) == dt.datetime(2025, 6, 10, 7, 30, tzinfo=SYD)
    assert schedules.next_fire(WAKE, after=dt.datetime(2025, 6, 9, 7, 30, tzinfo=SYD)).day == 10  # type: ignore[union-attr]


def test_disabled_schedule_never_fires() -> None:
    s = WAKE.model_copy(update={"enabled": False})
    assert schedules.fire_times(s, start=utc(2025, 6, 1), end=utc(2025, 6, 30)) == []
    assert schedules.next_fire(s, after=utc(2025, 6, 1)) is None
    assert schedules.desired_state([s, SLEEP], now=dt.datetime(2025, 6, 3, 9, tzinfo=SYD)).action == "sleep"  # type: ignore[union-attr]


def test_impossible_date_has_no_next_fire() -> None:
    assert schedules.next_fire(sched("0 0 30 2 *"), after=utc(2025, 1, 1)) is None


# -- ids and events ----------------------------------------------------------------------------------------------


def test_event_id_is_deterministic_and_names_the_fire() -> None:
    local = dt.datetime(2025, 6, 9, 7, 30, tzinfo=SYD)
    assert schedules.event_id(WAKE, local) == "weekday-wake@2025-06-08T21:30:00Z"
    assert schedules.event_id(WAKE, local) == schedules.event_id(WAKE, local.astimezone(UTC))
    assert schedules.event_id(WAKE, local) != schedules.event_id(SLEEP, local)
    assert schedules.event_id(WAKE, local) != schedules.event_id(WAKE, local + dt.timedelta(days=1))
    with pytest.raises(ValueError, match="timezone-aware"):
        schedules.event_id(WAKE, dt.datetime(2025, 6, 9, 7, 30))


def test_make_event_is_a_valid_power_event_identical_on_every_replica() -> None:
    at = dt.datetime(2025, 6, 9, 20, 0, tzinfo=SYD)
    e1, e2 = schedules.make_event(SLEEP, at), schedules.make_event(SLEEP, at)
    assert e1 == e2 and e1.dumps() == e2.dumps()
    assert (e1.type, e1.source, e1.subject) == (types.SLEEP, "sentinel/scheduler", "training")
    data = types.data_as(e1, types.PowerData)
    assert (data.cluster, data.schedule, data.fire_time, data.force) == ("training", "weeknight-sleep", at, False)


# -- desired state and catch-up --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("now", "action", "fired"),
    [
        (dt.datetime(2025, 6, 9, 9, 0, tzinfo=SYD), "wake", dt.datetime(2025, 6, 9, 7, 30, tzinfo=SYD)),  # Mon 09:00
        (dt.datetime(2025, 6, 9, 7, 30, tzinfo=SYD), "wake", dt.datetime(2025, 6, 9, 7, 30, tzinfo=SYD)),  # at the fire
        (dt.datetime(2025, 6, 9, 7, 29, tzinfo=SYD), "sleep", dt.datetime(2025, 6, 6, 20, 0, tzinfo=SYD)),  # Fri night
        (dt.datetime(2025, 6, 14, 12, 0, tzinfo=SYD), "sleep", dt.datetime(2025, 6, 13, 20, 0, tzinfo=SYD)),  # Sat
    ],
)
def test_desired_state(now: dt.datetime, action: str, fired: dt.datetime) -> None:
    d = schedules.desired_state([SLEEP, WAKE], now=now)
    assert d is not None and (d.action, d.fire_time, d.cluster) == (action, fired, "training")


def test_desired_state_ignores_skipped_fires_and_looks_back_only_so_far() -> None:
    s = WAKE.model_copy(update={"skip_dates": [dt.date(2025, 6, 9)]})
    d = schedules.desired_state([SLEEP, s], now=dt.datetime(2025, 6, 9, 9, tzinfo=SYD))
    assert d is not None and d.action == "sleep"
    yearly = sched("0 8 1 1 *", name="new-year")
    assert schedules.desired_state([yearly], now=utc(2025, 6, 1)) is None


def test_desired_state_tie_prefers_wake() -> None:
    a, b = sched("0 8 * * *", name="a", action="sleep"), sched("0 8 * * *", name="b", action="wake")
    assert schedules.desired_state([a, b], now=utc(2025, 6, 1, 9)).action == "wake"  # type: ignore[union-attr]


def test_catch_up_emits_the_missed_wake_once_with_a_stable_id() -> None:
    cfg = cfg_with()
    at_nine = dt.datetime(2025, 6, 9, 9, 0, tzinfo=SYD)  # down since Sunday; the 07:30 wake was missed
    events = schedules.catch_up(cfg, now=at_nine)
    assert [(e.type, e.subject, e.id) for e in events] == [
        (types.WAKE, "training", "weekday-wake@2025-06-08T21:30:00Z")
    ]
    # A restart five minutes later, or a second replica, computes the same event: the bus keeps one.
    assert schedules.catch_up(cfg, now=at_nine + dt.timedelta(minutes=5)) == events


# -- the runner's job body, with a fake publisher ----------------------------------------------------------------


class FakeBus:
    def __init__(self, fail_first: int = 0) -> None:
        self.seen: set[tuple[str, str]] = set()
        self.published: list[Event] = []
        self.fail_first = fail_first
        self.lock = threading.Lock()

    def publish(self, event: Event) -> Any:
        with self.lock:
            if self.fail_first:
                self.fail_first -= 1
                raise ConnectionError("redis down")
            key = (event.source, event.id)
            accepted = key not in self.seen
            self.seen.add(key)
            self.published.append(event)

        class Result:
            pass

        r = Result()
        r.accepted = accepted  # type: ignore[attr-defined]
        return r


def test_job_publishes_the_scheduled_time_not_the_clock() -> None:
    bus = FakeBus()
    scheduled = dt.datetime(2025, 6, 9, 20, 0, tzinfo=SYD)
    s = Scheduler(cfg_with(), publish=bus.publish, clock=lambda: scheduled + dt.timedelta(seconds=3.7))
    event = s.fire(SLEEP, scheduled.astimezone(UTC))
    assert event is not None and bus.published == [event]
    assert event.id == "weeknight-sleep@2025-06-09T10:00:00Z"


def test_job_on_a_skip_date_publishes_nothing() -> None:
    bus = FakeBus()
    s = SLEEP.model_copy(update={"skip_dates": [dt.date(2025, 6, 9)]})
    at = dt.datetime(2025, 6, 9, 20, 0, tzinfo=SYD)
    runner = Scheduler(cfg_with(), publish=bus.publish, clock=lambda: at)
    assert runner.fire(s, at) is None
    assert bus.published == []


def test_late_job_publishes_the_current_desired_state_instead() -> None:
    # The host slept from Monday 19:00 to Tuesday 09:00: the stale 20:00 sleep must not win over the 07:30 wake.
    bus = FakeBus()
    runner = Scheduler(cfg_with(), publish=bus.publish, clock=lambda: dt.datetime(2025, 6, 10, 9, 0, tzinfo=SYD))
    runner.fire(SLEEP, dt.datetime(2025, 6, 9, 20, 0, tzinfo=SYD))
    assert [(e.type, e.id) for e in bus.published] == [(types.WAKE, "weekday-wake@2025-06-09T21:30:00Z")]


def test_publish_is_retried_with_the_same_id() -> None:
    bus, slept = FakeBus(fail_first=2), []
    at = dt.datetime(2025, 6, 9, 20, 0, tzinfo=SYD)
    runner = Scheduler(cfg_with(), publish=bus.publish, clock=lambda: at, retry_delays=(1, 2, 3), sleep=slept.append)
    runner.fire(SLEEP, at)
    assert [e.id for e in bus.published] == ["weeknight-sleep@2025-06-09T10:00:00Z"]
    assert slept == [1, 2]


def test_start_publishes_catch_up_and_schedules_every_enabled_schedule() -> None:
    bus = FakeBus()
    off = {"name": "off", "cluster": "training", "action": "wake", "cron": "0 6 * * *", "enabled": False}
    runner = Scheduler(cfg_with(off), publish=bus.publish, clock=lambda: dt.datetime(2025, 6, 9, 9, tzinfo=SYD))
    try:
        events = runner.start()
        assert [e.id for e in bus.published] == [e.id for e in events] == ["weekday-wake@2025-06-08T21:30:00Z"]
        assert set(runner.next_runs()) == {"weeknight-sleep", "weekday-wake"}
    finally:
        runner.stop()


def test_scheduler_refuses_a_bad_cron() -> None:
    bad = {"name": "bad", "cluster": "training", "action": "wake", "cron": "0 25 * * *"}
    with pytest.raises(ConfigError, match="schedule 'bad'"):
        Scheduler(cfg_with(bad), publish=FakeBus().publish)


# -- sentinel schedule show -------------------------------------------------------------------------------------------


def test_render_lists_local_times_and_marks_skips() -> None:
    cfg = cfg_with(
        {
            "name": "xmas-wake",
            "cluster": "training",
            "action": "wake",
            "cron": "0 8 * * *",
            "timezone": "Australia/Sydney",
            "skip_dates": ["2025-12-25"],
        },
        base=False,
    )
    out = cli_schedule.render(cfg, now=utc(2025, 12, 23, 12), count=3)
    assert out.splitlines() == [
        "xmas-wake: wake training  cron '0 8 * * *'  Australia/Sydney",
        "  Wed 2025-12-24 08:00 AEDT (UTC+1100)",
        "  Thu 2025-12-25 08:00 AEDT (UTC+1100)  skipped (skip date)",
        "  Fri 2025-12-26 08:00 AEDT (UTC+1100)",
    ]


def test_show_command(tmp_path: Any) -> None:
    good = tmp_path / "sentinel.yaml"
    good.write_text(config.EMBEDDED)
    result = CliRunner().invoke(cli_schedule.app, ["show", "--config", str(good), "--count", "2"])
    assert result.exit_code == 0, result.output
    assert "weeknight-sleep: sleep training" in result.output and "weekday-wake: wake training" in result.output
    assert result.output.count(" 07:30 AE") == 2


def test_show_exits_2_with_the_config_error(tmp_path: Any) -> None:
    bad = tmp_path / "sentinel.yaml"
    bad.write_text(config.EMBEDDED.replace('cron: "30 7 * * mon-fri"', 'cron: "30 7 * *"'))
    result = CliRunner().invoke(cli_schedule.app, ["show", "--config", str(bad)])
    assert result.exit_code == 2
    assert "must have 5 fields" in result.output


def test_run_scheduler_exits_2_on_a_bad_cron(capsys: pytest.CaptureFixture[str]) -> None:
    import typer

    bad = {"name": "bad", "cluster": "training", "action": "wake", "cron": "0 8 * * mon-funday"}
    bus = FakeBus()
    with pytest.raises(typer.Exit) as exc:
        cli_schedule.run_scheduler(cfg_with(bad), bus.publish)
    assert exc.value.exit_code == 2
    assert "schedule 'bad'" in capsys.readouterr().err
    assert bus.published == []


def test_catch_up_retry_does_not_publish_a_superseded_sleep() -> None:
    # Started at Mon 07:29:59; the bus is down for the first try; by the retry the 07:30 wake has fired.
    times = iter([dt.datetime(2025, 6, 9, 7, 29, 59, tzinfo=SYD)])
    later = dt.datetime(2025, 6, 9, 7, 30, 1, tzinfo=SYD)
    bus = FakeBus(fail_first=1)
    runner = Scheduler(cfg_with(), publish=bus.publish, clock=lambda: next(times, later), sleep=lambda _: None)
    try:
        events = runner.start()
    finally:
        runner.stop()
    assert [e.id for e in events] == ["weeknight-sleep@2025-06-06T10:00:00Z"]
    assert bus.published == []  # the stale Friday sleep is dropped; the wake job publishes the wake

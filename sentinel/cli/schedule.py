"""``sentinel schedule …``: see when the schedules fire; :func:`run_scheduler` backs ``sentinel scheduler``."""

from __future__ import annotations

import datetime as dt
import signal
import threading
from pathlib import Path
from typing import Annotated

import typer

from sentinel import config
from sentinel.errors import ConfigError
from sentinel.events import schedules
from sentinel.events.envelope import utcnow
from sentinel.events.scheduler import Publish, Scheduler

app = typer.Typer(help="Sleep/wake schedules: when they fire next.", no_args_is_help=True)

ConfigOpt = Annotated[
    Path | None, typer.Option("--config", "-c", help="sentinel.yaml (default: $SENTINEL_CONFIG, ./sentinel.yaml)")
]


@app.callback()
def _group() -> None:
    """Sleep/wake schedules: when they fire next."""


def render(cfg: config.Config, *, now: dt.datetime, count: int = 5) -> str:
    """Each schedule's next ``count`` cron occurrences in its own timezone; skip dates are marked."""
    if not cfg.schedules:
        return "no schedules configured"
    out: list[str] = []
    for s in cfg.schedules:
        state = "" if s.enabled else "  [disabled]"
        out.append(f"{s.name}: {s.action} {s.cluster}  cron {s.cron!r}  {s.timezone}{state}")
        after, shown = now, 0
        while shown < count:
            at = schedules.next_occurrence(s, after=after, skipped=True)
            if at is None:
                out.append("  (no fire within a year)")
                break
            mark = _skip_reason(s, at.date())
            out.append(f"  {at:%a %Y-%m-%d %H:%M %Z (UTC%z)}{mark}")
            after, shown = at, shown + 1
    return "\n".join(out)


def _skip_reason(s: config.Schedule, day: dt.date) -> str:
    if day in s.skip_dates:
        return "  skipped (skip date)"
    for r in s.skip_ranges:
        if r.start <= day <= r.end:
            return f"  skipped (skip range {r.start}..{r.end})"
    return ""


@app.command()
def show(
    config_path: ConfigOpt = None,
    count: Annotated[int, typer.Option("--count", "-n", min=1, max=100, help="Fire times per schedule.")] = 5,
) -> None:
    """Next fire times per schedule, in the schedule's own timezone, skipped dates marked."""
    try:
        cfg = config.load(config_path)
        schedules.validate(cfg.schedules)
    except ConfigError as e:
        typer.echo(str(e), err=True)
        raise typer.Exit(2) from None
    typer.echo(render(cfg, now=utcnow(), count=count))


def run_scheduler(cfg: config.Config, publish: Publish) -> None:
    """Run the scheduler in the foreground until SIGTERM/SIGINT; a bad cron exits 2 with the message."""
    try:
        sched = Scheduler(cfg, publish=publish)
    except ConfigError as e:
        typer.echo(str(e), err=True)
        raise typer.Exit(2) from None
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda *_: sched.stop())
    sched.run()

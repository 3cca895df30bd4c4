"""Pure guards: may the cluster go to sleep now? Each answer says why, for the audit and whoever asked."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal


@dataclass(frozen=True)
class Lease:
    """A keep-awake lease: scheduled sleeps defer until it ends."""

    until: dt.datetime
    requested_by: str | None = None
    reason: str | None = None

    def active(self, now: dt.datetime) -> bool:
        return now < self.until


@dataclass(frozen=True)
class Verdict:
    decision: Literal["go", "defer"]
    reason: str
    retry_at: dt.datetime | None = None
    """When to look again (the lease's end, or a re-check interval for running Ray jobs)."""

    @property
    def go(self) -> bool:
        return self.decision == "go"


def check_sleep(
    *,
    now: dt.datetime,
    scheduled: bool,
    force: bool,
    lease: Lease | None,
    running_jobs: Sequence[str],
    serving: dict[str, Any] | None,
    recheck: dt.timedelta = dt.timedelta(minutes=5),
) -> Verdict:
    """``force`` (an operator's explicit sleep) overrides everything; otherwise Ray jobs, a RayService that must
    stay up, and (for scheduled sleeps) a keep-awake lease defer it."""
    if force:
        return Verdict("go", "forced by the requester")
    if running_jobs:
        shown = ", ".join(running_jobs[:5]) + (" …" if len(running_jobs) > 5 else "")
        return Verdict("defer", f"{len(running_jobs)} Ray job(s) running: {shown}", now + recheck)
    if serving:
        name = serving.get("name")
        return Verdict("defer", f"RayService {name} is configured to stay up while serving", now + recheck)
    if lease is not None and lease.active(now):
        who = f" by {lease.requested_by}" if lease.requested_by else ""
        why = f" ({lease.reason})" if lease.reason else ""
        until = lease.until.isoformat(timespec="minutes")
        if scheduled:
            return Verdict("defer", f"keep-awake lease{who} until {until}{why}", lease.until)
        return Verdict("defer", f"keep-awake lease{who} until {until}{why}; use force to override", lease.until)
    return Verdict("go", "no running Ray jobs, no keep-awake lease")

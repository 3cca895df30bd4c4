"""``sentinel report cost``: what sleeping saved, from the ``transition`` records of the audit trail."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import sys
from collections.abc import Iterable
from types import ModuleType
from typing import Annotated, Any

import redis
import typer

from sentinel import config as config_mod
from sentinel.cli.main import app, guarded
from sentinel.errors import PermanentError, TransientError, shorten
from sentinel.events import audit as audit_mod
from sentinel.events import envelope
from sentinel.ops import cost

report_app = typer.Typer(help="Reports from the audit trail.", no_args_is_help=True)
app.add_typer(report_app, name="report")

PAGE = 500


def _main() -> ModuleType:
    """:mod:`sentinel.cli.main`, looked up at call time (``sentinel.cli.main`` the attribute is the function),
    so a test that replaces its ``rt`` / ``cfg`` is heard here too."""
    return sys.modules["sentinel.cli.main"]


def parse_since(value: str, *, now: dt.datetime) -> dt.datetime:
    """``7d`` / ``12h`` (that long before ``now``) or an ISO date/time (naive: this machine's local time)."""
    try:
        seconds = config_mod.parse_duration(value)
    except ValueError:
        pass
    else:
        if seconds <= 0:
            raise PermanentError(f"--since {value!r}: the period must be longer than zero")
        return now - dt.timedelta(seconds=seconds)
    try:
        at = dt.datetime.fromisoformat(value.strip())
    except ValueError:
        raise PermanentError(f"--since {value!r} is neither a duration (7d, 12h) nor an ISO date/time") from None
    at = at if at.tzinfo is not None else at.astimezone()
    if at >= now:
        raise PermanentError(f"--since {value!r} is not in the past")
    return at


def transition(rec: audit_mod.Record) -> cost.PowerTransition | None:
    """An audit ``transition`` record → a :class:`cost.PowerTransition` (``None`` if it is not one)."""
    f = rec.fields
    cluster, state = f.get("cluster"), f.get("state")
    if rec.kind != "transition" or not cluster or state not in cost.STATES:
        return None
    try:
        raw = json.loads(f.get("nodegroups") or "{}")
        ngs = {
            name: cost.NodeGroupCost(nodes=int(v.get("nodes", 0)), instance_type=str(v.get("instance_type", "?")))
            for name, v in (raw.items() if isinstance(raw, dict) else [])
        }
    except (ValueError, TypeError, AttributeError):
        ngs = {}
    at = rec.at if rec.at.tzinfo is not None else rec.at.replace(tzinfo=dt.UTC)
    return cost.PowerTransition(at=at, cluster=cluster, state=state, nodegroups=ngs)


def _last_before(audit: audit_mod.Audit, start: dt.datetime) -> list[cost.PowerTransition]:
    """Each cluster's last transition before ``start``: a cluster asleep since before counts from ``start``."""
    found: dict[str, cost.PowerTransition] = {}
    last = f"({int(start.timestamp() * 1000)}-0"
    while True:
        rows: Any = audit.client.xrevrange(audit.stream, max=last, min="-", count=PAGE)
        for entry_id, raw in rows:
            t = transition(audit_mod.parse_record(entry_id, raw))
            if t is not None and t.cluster not in found and t.at < start:
                found[t.cluster] = t
        if len(rows) < PAGE:
            return list(found.values())
        oldest = rows[-1][0]
        last = "(" + (oldest.decode() if isinstance(oldest, bytes) else str(oldest))


def transitions(audit: audit_mod.Audit, since: dt.datetime) -> list[cost.PowerTransition]:
    recs: Iterable[audit_mod.Record] = audit.since(since, kinds={"transition"})
    inside = [t for t in map(transition, recs) if t is not None]
    return _last_before(audit, since) + inside


def as_json(rep: cost.CostReport) -> str:
    return json.dumps(dataclasses.asdict(rep), indent=2, sort_keys=True, default=str)


@report_app.command("cost")
def cost_report(
    since: Annotated[str, typer.Option(help="period start: a duration back from now (7d, 12h) or an ISO date/time")]
    = "7d",
    json_out: Annotated[bool, typer.Option("--json", help="the report as JSON")] = False,
) -> None:
    """Node-hours and dollars avoided by sleeping, per node group and cluster, priced from `pricing:`."""

    def run() -> None:
        c = _main().cfg()
        now = envelope.utcnow()
        start = parse_since(since, now=now)
        try:
            seen = transitions(_main().rt().audit, start)
        except redis.RedisError as e:
            raise TransientError(f"audit trail unreadable: {shorten(e)}") from e
        rep = cost.report(seen, pricing=c.pricing, since=start, now=now)
        typer.echo(as_json(rep) if json_out else cost.format_table(rep))

    guarded(run)

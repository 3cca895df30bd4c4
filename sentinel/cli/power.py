"""``sentinel status | sleep | wake | keep-awake | plan | scheduler``: power from the command line.

Commands that change something only publish an event through the bus (source ``sentinel/cli``, subject the
cluster); the workers carry it out. ``status`` and ``plan`` only read. Registered on
:data:`sentinel.cli.main.app` when :mod:`sentinel.cli.main` mounts this module.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import os
import re
import sys
import zoneinfo
from types import ModuleType
from typing import Annotated, Any

import typer

from sentinel import config as config_mod
from sentinel.cli import report as _report  # noqa: F401  (registers `sentinel report …`)
from sentinel.cli.main import app, guarded
from sentinel.errors import PermanentError
from sentinel.events import envelope, types
from sentinel.ops import status as status_mod
from sentinel.ops.powerstate import PowerStore

SOURCE = "sentinel/cli"
_HHMM = re.compile(r"^\s*([01]?\d|2[0-3]):([0-5]\d)\s*$")

plan_app = typer.Typer(
    help="What `sentinel sleep|wake` would do now, call by call, without doing it.", no_args_is_help=True
)
app.add_typer(plan_app, name="plan")

ClusterArg = Annotated[str, typer.Argument(help="a cluster from sentinel.yaml")]


def _main() -> ModuleType:
    """:mod:`sentinel.cli.main`, looked up at call time (``sentinel.cli.main`` the attribute is the function),
    so a test that replaces its ``rt`` / ``cfg`` is heard here too."""
    return sys.modules["sentinel.cli.main"]


def requested_by() -> str:
    return os.environ.get("USER") or "cli"


def known(cluster: str) -> None:
    """An unknown cluster exits 2 with the config's message (which names the configured ones)."""
    guarded(lambda: _main().cfg().cluster(cluster))


def publish(event_type: str, cluster: str, data: dict[str, Any]) -> None:
    """Publish one event about ``cluster`` through the bus; print ``<id> accepted|duplicate``."""

    def run() -> None:
        event = envelope.Event(source=SOURCE, type=event_type, subject=cluster, data=data)
        res = _main().rt().bus.publish(event)
        typer.echo(f"{res.event_id} {res.status}")

    guarded(run)


# --- sleep / wake / keep-awake -----------------------------------------------------------------------------


def _power_data(cluster: str, *, force: bool) -> dict[str, Any]:
    def run() -> dict[str, Any]:
        try:
            return types.PowerData(cluster=cluster, requested_by=requested_by(), force=force).model_dump(
                mode="json", exclude_none=True
            )
        except ValueError as e:
            raise PermanentError(f"cluster {cluster!r} is not a valid name: {e}") from None

    return guarded(run)


@app.command()
def sleep(
    cluster: ClusterArg,
    force: Annotated[bool, typer.Option("--force", help="override the keep-awake lease and running Ray jobs")] = False,
) -> None:
    """Ask the workers to put CLUSTER to sleep; prints the event id and "accepted" or "duplicate"."""
    known(cluster)
    publish(types.SLEEP, cluster, _power_data(cluster, force=force))


@app.command()
def wake(cluster: ClusterArg) -> None:
    """Ask the workers to wake CLUSTER; prints the event id and "accepted" or "duplicate"."""
    known(cluster)
    publish(types.WAKE, cluster, _power_data(cluster, force=False))


def next_local_time(hhmm: str, *, now: dt.datetime, tz: dt.tzinfo | None = None) -> dt.datetime:
    """The next ``HH:MM`` strictly after ``now``, in ``tz`` (``None``: this machine's local timezone)."""
    m = _HHMM.match(hhmm)
    if not m:
        raise PermanentError(f"--until {hhmm!r} is not a time like 22:00")
    at = dt.time(int(m.group(1)), int(m.group(2)))
    if tz is None:
        local = now.astimezone().replace(tzinfo=None)  # naive local wall time
        candidate = dt.datetime.combine(local.date(), at)
        if candidate <= local:
            candidate = dt.datetime.combine(local.date() + dt.timedelta(days=1), at)
        return candidate.astimezone()  # naive → local, with that day's UTC offset
    local_tz = now.astimezone(tz)
    candidate = dt.datetime.combine(local_tz.date(), at, tzinfo=tz)
    if candidate <= local_tz:
        candidate = dt.datetime.combine(local_tz.date() + dt.timedelta(days=1), at, tzinfo=tz)
    return candidate


def keep_awake_until(
    *, for_: str | None, until: str | None, tz: str | None, now: dt.datetime
) -> dt.datetime:
    """``--for 2h`` or ``--until 22:00`` (exactly one) → a tz-aware end time."""
    if (for_ is None) == (until is None):
        raise PermanentError("give exactly one of --for (e.g. 2h) or --until (e.g. 22:00)")
    if for_ is not None:
        if tz is not None:
            raise PermanentError("--tz only applies to --until")
        try:
            seconds = config_mod.parse_duration(for_)
        except ValueError as e:
            raise PermanentError(f"--for: {e}") from None
        if seconds <= 0:
            raise PermanentError(f"--for {for_!r}: the duration must be above zero")
        return now + dt.timedelta(seconds=seconds)
    assert until is not None
    zone: dt.tzinfo | None = None
    if tz is not None:
        try:
            zone = zoneinfo.ZoneInfo(tz)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise PermanentError(f"--tz {tz!r} is not an IANA timezone (e.g. Australia/Sydney)") from None
    return next_local_time(until, now=now, tz=zone)


@app.command("keep-awake")
def keep_awake(
    cluster: ClusterArg,
    for_: Annotated[str | None, typer.Option("--for", help="how long, e.g. 90m, 2h")] = None,
    until: Annotated[str | None, typer.Option("--until", help="until the next HH:MM local time, e.g. 22:00")] = None,
    tz: Annotated[str | None, typer.Option("--tz", help="IANA timezone for --until (default: this machine's)")] = None,
    reason: Annotated[str | None, typer.Option("--reason", help="why, shown to whoever looks")] = None,
) -> None:
    """Keep CLUSTER awake (scheduled sleeps defer) for a while or until a time; wakes it if asleep."""

    def data() -> dict[str, Any]:
        end = keep_awake_until(for_=for_, until=until, tz=tz, now=envelope.utcnow())
        try:
            d = types.KeepAwakeData(cluster=cluster, until=end, requested_by=requested_by(), reason=reason)
        except ValueError as e:
            raise PermanentError(f"keep-awake: {e}") from None
        return d.model_dump(mode="json", exclude_none=True)

    known(cluster)
    body = guarded(data)
    typer.echo(f"keep {cluster} awake until {body['until']}")
    publish(types.KEEP_AWAKE, cluster, body)


# --- status ------------------------------------------------------------------------------------------------


def _sizes(s: dict[str, int]) -> str:
    return f"{s['min']}/{s['desired']}/{s['max']}"


def render_status(st: dict[str, Any]) -> list[str]:
    """A cluster's status (from :func:`sentinel.ops.status.build`) as text lines."""
    errors: dict[str, str] = st.get("errors") or {}
    out = []
    if st.get("state") is not None:
        since = f" since {st['since']}" if st.get("since") else ""
        why = f" ({st['reason']})" if st.get("reason") else ""
        out.append(f"{st['cluster']}: {st['state']}{since}{why}")
    else:
        out.append(f"{st['cluster']}: state unknown")
    snap = st.get("snapshot")
    if snap:
        ngs = ", ".join(f"{n} {_sizes(s)}" for n, s in snap["nodegroups"].items())
        deps = ", ".join(f"{r}={n}" for r, n in snap["deployments"].items())
        out.append(f"  snapshot: v{snap['version']} taken {snap['taken_at']}: {ngs}; {deps}")
    elif "snapshot" not in errors:
        out.append("  snapshot: none yet (a wake would use the configured awake sizes)")
    if st.get("nodegroups") is not None:
        out.append("  node groups (min/desired/max):")
        for name, s in st["nodegroups"].items():
            ready = (st.get("nodes_ready") or {}).get(name)
            nodes = f", {ready} Ready node(s)" if ready is not None else ""
            status = (st.get("nodegroup_status") or {}).get(name, "")
            out.append(f"    {name:<24} {_sizes(s):<9} {status}{nodes}")
    if st.get("deployments") is not None:
        out.append("  system deployments (replicas, ready):")
        for ref, n in st["deployments"].items():
            out.append(f"    {ref:<40} {n} ({(st.get('deployments_ready') or {}).get(ref, '?')} ready)")
    lease = st.get("lease")
    if lease:
        who = f" by {lease['requested_by']}" if lease.get("requested_by") else ""
        why = f" ({lease['reason']})" if lease.get("reason") else ""
        active = "" if lease.get("active") else " [expired]"
        out.append(f"  keep-awake: until {lease['until']}{who}{why}{active}")
    elif "lease" not in errors:
        out.append("  keep-awake: none")
    intent = st.get("intent")
    if intent:
        done = "pending" if intent["pending"] else "done"
        out.append(f"  last request: {intent['action']} ({intent['event_id']}, {intent['at']}) {done}")
    elif "intent" not in errors:
        out.append("  last request: none")
    for part, reason in errors.items():
        out.append(f"  could not read {part}: {reason}")
    return out


@app.command()
def status(
    cluster: Annotated[str | None, typer.Argument(help="one cluster (default: every configured one)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON: the cluster's object, or {cluster: object}")] = False,
) -> None:
    """Power state, snapshot, live node groups and system deployments, keep-awake lease, pending request.

    What cannot be read (Redis, EKS, Kubernetes) is named; exit 1 only when nothing at all could be read.
    """
    c = _main().cfg()
    names = [cluster] if cluster else list(c.clusters)
    if cluster:
        known(cluster)
    r = _main().rt()
    now = envelope.utcnow()
    out: dict[str, dict[str, Any]] = {}
    for name in names:
        out[name] = status_mod.build(
            name, c.cluster(name), store=PowerStore(r.client, name), connect=functools.partial(r.connect, name),
            now=now,
        )
    if as_json:
        typer.echo(json.dumps(out[cluster] if cluster else out, indent=2, sort_keys=True, default=str))
    else:
        if not out:
            typer.echo("no clusters configured")
        for st in out.values():
            typer.echo("\n".join(render_status(st)))
    if out and not any(status_mod.anything_read(st) for st in out.values()):
        typer.echo("error: nothing could be read (state store and cloud both unreachable)", err=True)
        raise typer.Exit(1)


# --- plan --------------------------------------------------------------------------------------------------


def render_plan(name: str, pv: status_mod.Preview) -> list[str]:
    obs = pv.observed
    ngs = ", ".join(f"{n} {s[0]}/{s[1]}/{s[2]}" for n, s in obs.nodegroups.items())
    deps = ", ".join(f"{r}={n}" for r, n in obs.deployments.items())
    snap = pv.snapshot
    snap_ngs = ", ".join(f"{n} {s[0]}/{s[1]}/{s[2]}" for n, s in snap.nodegroups.items())
    snap_deps = ", ".join(f"{r}={n}" for r, n in snap.deployments.items())
    where = {
        "new": f"would save snapshot v{snap.version}",
        "resume": f"resuming: keeps stored snapshot v{snap.version}",
        "stored": f"back to stored snapshot v{snap.version} (taken {snap.taken_at.isoformat(timespec='minutes')})",
        "default": "no snapshot stored: back to the configured awake sizes",
    }[pv.snapshot_source]
    out = [
        f"plan: {pv.action} {name} (state: {pv.state})",
        f"now: {ngs}; {deps}",
        f"snapshot: {where}: {snap_ngs}; {snap_deps}",
    ]
    out += [f"note: {n}" for n in pv.notes]
    if pv.action == "sleep":
        if pv.verdict is None:
            out.append("guard: not checked (already asleep)")
        else:
            v = pv.verdict
            retry = f" (looks again at {v.retry_at.isoformat(timespec='minutes')})" if v.retry_at else ""
            out.append(f"guard: {v.decision}: {v.reason}{retry}")
    if pv.verdict is not None and not pv.verdict.go:
        out.append("steps (not carried out while the guard defers):")
    else:
        out.append("steps:")
    out += [f"  {line}" for line in pv.plan.describe()] or ["  (none)"]
    out.append("nothing was changed.")
    return out


def _plan(action: str, cluster: str, *, force: bool = False) -> None:
    def run() -> None:
        c = _main().cfg()
        cl = c.cluster(cluster)
        r = _main().rt()
        pv = status_mod.preview(action, cl, store=PowerStore(r.client, cluster), adapters=r.connect(cluster),
                                now=envelope.utcnow(), force=force)
        typer.echo("\n".join(render_plan(cluster, pv)))

    guarded(run)


@plan_app.command("sleep")
def plan_sleep(
    cluster: ClusterArg,
    force: Annotated[bool, typer.Option("--force", help="judge the guard as for `sleep --force`")] = False,
) -> None:
    """The calls `sentinel sleep CLUSTER` would make, in order, current → target, and the guard's verdict."""
    _plan("sleep", cluster, force=force)


@plan_app.command("wake")
def plan_wake(cluster: ClusterArg) -> None:
    """The calls `sentinel wake CLUSTER` would make, in order, current → target."""
    _plan("wake", cluster)


# --- scheduler ---------------------------------------------------------------------------------------------


@app.command()
def scheduler() -> None:
    """Run the sleep/wake scheduler in the foreground (publishes through the bus; stop with Ctrl-C / SIGTERM)."""
    from sentinel.cli.schedule import run_scheduler

    c = _main().cfg()
    run_scheduler(c, publish=_main().rt().bus.publish)

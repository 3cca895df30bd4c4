"""What sleeping saved: node-hours avoided per node group, priced per instance type, and the share asleep.

Pure: :func:`report` takes the power transitions (from the state store's history), the price list and the
period, and returns a frozen :class:`CostReport`. A node group counts as avoided from the moment its cluster
reached ``asleep`` until the cluster's next transition out of ``asleep`` (normally ``waking``), or ``now``;
only the part inside ``[since, now]`` counts. The node count is the one recorded on the ``asleep``
transition: the nodes that were running before the sleep.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

State = Literal["awake", "sleeping", "asleep", "waking", "degraded"]
STATES = ("awake", "sleeping", "asleep", "waking", "degraded")


@dataclass(frozen=True)
class NodeGroupCost:
    nodes: int
    instance_type: str


@dataclass(frozen=True)
class PowerTransition:
    at: dt.datetime
    cluster: str
    state: str
    nodegroups: Mapping[str, NodeGroupCost] = field(default_factory=dict)


@dataclass(frozen=True)
class NodeGroupSaving:
    cluster: str
    nodegroup: str
    instance_type: str
    node_hours: float
    hourly_usd: float | None
    """``None`` when the price list has no entry for the instance type (then ``usd`` is 0)."""
    usd: float


@dataclass(frozen=True)
class ClusterSaving:
    cluster: str
    asleep_hours: float
    share_asleep: float
    """Fraction of ``[since, now]`` the cluster spent asleep, 0..1."""
    usd: float


@dataclass(frozen=True)
class CostReport:
    since: dt.datetime
    now: dt.datetime
    nodegroups: tuple[NodeGroupSaving, ...]
    clusters: tuple[ClusterSaving, ...]
    total_usd: float
    unpriced: tuple[str, ...]
    """Instance types without a price: their node-hours are counted, their dollars are not."""


@dataclass(frozen=True)
class _Interval:
    cluster: str
    start: dt.datetime
    end: dt.datetime
    nodegroups: Mapping[str, NodeGroupCost]


def _aware(name: str, value: dt.datetime) -> dt.datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got {value!r}")
    return value


def asleep_intervals(transitions: Iterable[PowerTransition], *, now: dt.datetime) -> list[_Interval]:
    """Each stretch a cluster spent asleep: from ``asleep`` to its next non-``asleep`` transition, or ``now``."""
    by_cluster: dict[str, list[PowerTransition]] = defaultdict(list)
    for t in transitions:
        if t.state not in STATES:
            raise ValueError(f"unknown power state {t.state!r} (one of {', '.join(STATES)})")
        _aware("transition time", t.at)
        if t.at <= now:
            by_cluster[t.cluster].append(t)
    out: list[_Interval] = []
    for cluster, ts in by_cluster.items():
        opened: PowerTransition | None = None
        for t in sorted(ts, key=lambda t: t.at):
            if t.state == "asleep":
                opened = opened or t  # a repeated "asleep" record neither restarts nor doubles the stretch
            elif opened is not None:
                out.append(_Interval(cluster, opened.at, t.at, opened.nodegroups))
                opened = None
        if opened is not None:
            out.append(_Interval(cluster, opened.at, now, opened.nodegroups))
    return out


def report(
    transitions: Iterable[PowerTransition],
    *,
    pricing: Mapping[str, float],
    since: dt.datetime,
    now: dt.datetime,
) -> CostReport:
    """Node-hours and dollars avoided in ``[since, now]``, per node group and per cluster."""
    _aware("since", since)
    _aware("now", now)
    if now <= since:
        raise ValueError(f"now ({now.isoformat()}) must be after since ({since.isoformat()})")
    period_h = (now - since).total_seconds() / 3600
    node_hours: dict[tuple[str, str, str], float] = defaultdict(float)
    asleep_h: dict[str, float] = defaultdict(float)
    for iv in asleep_intervals(transitions, now=now):
        start, end = max(iv.start, since), min(iv.end, now)
        if end <= start:
            continue
        hours = (end - start).total_seconds() / 3600
        asleep_h[iv.cluster] += hours
        for name, ng in iv.nodegroups.items():
            node_hours[(iv.cluster, name, ng.instance_type)] += ng.nodes * hours

    groups = []
    cluster_usd: dict[str, float] = defaultdict(float)
    unpriced: set[str] = set()
    for (cluster, name, itype), nh in sorted(node_hours.items()):
        price = pricing.get(itype)
        if price is None:
            unpriced.add(itype)
        usd = nh * price if price is not None else 0.0
        cluster_usd[cluster] += usd
        groups.append(NodeGroupSaving(cluster, name, itype, nh, price, usd))
    clusters = tuple(ClusterSaving(c, h, min(h / period_h, 1.0), cluster_usd[c]) for c, h in sorted(asleep_h.items()))
    return CostReport(
        since=since,
        now=now,
        nodegroups=tuple(groups),
        clusters=clusters,
        total_usd=sum(g.usd for g in groups),
        unpriced=tuple(sorted(unpriced)),
    )


def format_table(rep: CostReport) -> str:
    """A plain-text table for ``sentinel report cost``."""
    head = ("cluster", "node group", "instance", "node-hours", "$/hour", "avoided $")
    rows = [
        (
            g.cluster,
            g.nodegroup,
            g.instance_type,
            f"{g.node_hours:.1f}",
            f"{g.hourly_usd:.3f}" if g.hourly_usd is not None else "unpriced",
            f"{g.usd:.2f}",
        )
        for g in rep.nodegroups
    ]
    widths = [max(len(r[i]) for r in (head, *rows)) for i in range(len(head))]

    def line(r: tuple[str, ...]) -> str:
        cells = [c.ljust(w) if i < 3 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True))]
        return "  ".join(cells).rstrip()

    out = [
        f"cost avoided by sleeping, {rep.since.isoformat(timespec='minutes')} → {rep.now.isoformat(timespec='minutes')}"
    ]
    out += [line(head), line(tuple("-" * w for w in widths)), *(line(r) for r in rows)]
    if not rows:
        out.append("(no node group was asleep in this period)")
    for c in rep.clusters:
        out.append(
            f"{c.cluster}: asleep {c.asleep_hours:.1f} h ({c.share_asleep:.0%} of the period), avoided ${c.usd:.2f}"
        )
    out.append(f"total avoided: ${rep.total_usd:.2f}")
    if rep.unpriced:
        out.append(f"no price for: {', '.join(rep.unpriced)} (add them under pricing: in sentinel.yaml)")
    return "\n".join(out)

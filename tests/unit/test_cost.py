"""Cost arithmetic with fixed dates: node-hours avoided while asleep, priced per instance type."""

from __future__ import annotations

import datetime as dt

import pytest

from sentinel.ops import cost
from sentinel.ops.cost import NodeGroupCost, PowerTransition

UTC = dt.UTC
PRICES = {"m5.xlarge": 0.192, "m5.2xlarge": 0.384}
GROUPS = {
    "managed-ng-1": NodeGroupCost(nodes=2, instance_type="m5.xlarge"),
    "worker-group-spot-1": NodeGroupCost(nodes=1, instance_type="m5.2xlarge"),
}


def at(day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2025, 6, day, hour, minute, tzinfo=UTC)


def night(day: int, *, cluster: str = "training", groups: dict[str, NodeGroupCost] = GROUPS) -> list[PowerTransition]:
    """Sleep starts 20:00, asleep 20:10, waking 07:30 next day, awake 07:40: 11h20m asleep."""
    return [
        PowerTransition(at(day, 20), cluster, "sleeping", groups),
        PowerTransition(at(day, 20, 10), cluster, "asleep", groups),
        PowerTransition(at(day + 1, 7, 30), cluster, "waking"),
        PowerTransition(at(day + 1, 7, 40), cluster, "awake"),
    ]


def test_one_night_node_hours_and_dollars() -> None:
    rep = cost.report(night(2), pricing=PRICES, since=at(2, 0), now=at(3, 0) + dt.timedelta(days=1))
    hours = 11 + 20 / 60
    by_ng = {g.nodegroup: g for g in rep.nodegroups}
    assert by_ng["managed-ng-1"].node_hours == pytest.approx(2 * hours)
    assert by_ng["managed-ng-1"].usd == pytest.approx(2 * hours * 0.192)
    assert by_ng["worker-group-spot-1"].node_hours == pytest.approx(hours)
    assert by_ng["worker-group-spot-1"].usd == pytest.approx(hours * 0.384)
    assert rep.total_usd == pytest.approx(hours * (2 * 0.192 + 0.384))  # 11.333 h x $0.768/h = $8.704
    assert rep.total_usd == pytest.approx(8.704)
    [c] = rep.clusters
    assert (c.cluster, c.asleep_hours, c.share_asleep) == ("training", pytest.approx(hours), pytest.approx(hours / 48))


def test_a_week_of_nights_adds_up() -> None:
    ts = [t for d in range(2, 7) for t in night(d)]  # Mon..Fri nights
    rep = cost.report(ts, pricing=PRICES, since=at(2, 0), now=at(9, 0))
    assert rep.total_usd == pytest.approx(5 * (11 + 20 / 60) * 0.768)
    assert rep.clusters[0].share_asleep == pytest.approx(5 * (11 + 20 / 60) / (7 * 24))


def test_still_asleep_counts_until_now_and_the_period_clips() -> None:
    ts = [PowerTransition(at(1, 20), "training", "asleep", GROUPS)]  # went to sleep before the period
    rep = cost.report(ts, pricing=PRICES, since=at(2, 0), now=at(2, 6))
    assert rep.clusters[0].asleep_hours == pytest.approx(6)
    assert rep.clusters[0].share_asleep == pytest.approx(1.0)
    assert rep.total_usd == pytest.approx(6 * 0.768)


def test_only_time_from_asleep_counts_not_sleeping_or_waking() -> None:
    ts = [
        PowerTransition(at(2, 20), "training", "sleeping", GROUPS),
        PowerTransition(at(2, 21), "training", "asleep", GROUPS),
        PowerTransition(at(2, 23), "training", "waking"),
        PowerTransition(at(3, 1), "training", "awake"),
    ]
    rep = cost.report(ts, pricing=PRICES, since=at(2, 0), now=at(3, 12))
    assert rep.clusters[0].asleep_hours == pytest.approx(2)


def test_a_repeated_asleep_record_does_not_double_count() -> None:
    ts = [
        PowerTransition(at(2, 20), "training", "asleep", GROUPS),
        PowerTransition(at(2, 22), "training", "asleep", GROUPS),
        PowerTransition(at(3, 6), "training", "waking"),
    ]
    rep = cost.report(ts, pricing=PRICES, since=at(2, 0), now=at(4, 0))
    assert rep.clusters[0].asleep_hours == pytest.approx(10)


def test_clusters_are_separate_and_unsorted_input_is_fine() -> None:
    small = {"ng": NodeGroupCost(nodes=3, instance_type="m5.xlarge")}
    ts = list(reversed(night(2) + night(2, cluster="inference", groups=small)))
    rep = cost.report(ts, pricing=PRICES, since=at(2, 0), now=at(4, 0))
    usd = {c.cluster: c.usd for c in rep.clusters}
    hours = 11 + 20 / 60
    assert usd == {"inference": pytest.approx(3 * hours * 0.192), "training": pytest.approx(hours * 0.768)}


def test_unknown_instance_type_counts_hours_but_not_dollars() -> None:
    groups = {"gpu": NodeGroupCost(nodes=1, instance_type="g5.xlarge")}
    ts = [PowerTransition(at(2, 0), "training", "asleep", groups), PowerTransition(at(2, 10), "training", "waking")]
    rep = cost.report(ts, pricing=PRICES, since=at(2, 0), now=at(3, 0))
    [g] = rep.nodegroups
    assert (g.node_hours, g.hourly_usd, g.usd) == (pytest.approx(10), None, 0.0)
    assert rep.unpriced == ("g5.xlarge",)
    assert "no price for: g5.xlarge" in cost.format_table(rep)


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown power state"):
        cost.report([PowerTransition(at(2, 0), "training", "napping")], pricing=PRICES, since=at(1, 0), now=at(3, 0))
    with pytest.raises(ValueError, match="must be after"):
        cost.report([], pricing=PRICES, since=at(3, 0), now=at(2, 0))
    with pytest.raises(ValueError, match="timezone-aware"):
        cost.report([], pricing=PRICES, since=dt.datetime(2025, 6, 1), now=at(2, 0))


def test_format_table() -> None:
    rep = cost.report(night(2), pricing=PRICES, since=at(2, 0), now=at(4, 0))
    lines = cost.format_table(rep).splitlines()
    assert lines[1].split() == ["cluster", "node", "group", "instance", "node-hours", "$/hour", "avoided", "$"]
    assert lines[3].split() == ["training", "managed-ng-1", "m5.xlarge", "22.7", "0.192", "4.35"]
    assert lines[4].split() == ["training", "worker-group-spot-1", "m5.2xlarge", "11.3", "0.384", "4.35"]
    assert "training: asleep 11.3 h (24% of the period), avoided $8.70" in lines
    assert lines[-1] == "total avoided: $8.70"


def test_empty_period() -> None:
    rep = cost.report([], pricing=PRICES, since=at(2, 0), now=at(3, 0))
    assert (rep.total_usd, rep.nodegroups, rep.clusters) == (0, (), ())
    assert "(no node group was asleep in this period)" in cost.format_table(rep)

"""What a cluster looks like now, read-only: the status behind ``sentinel status`` and the preview behind
``sentinel plan``.

Both take the power store and a way to reach the cluster's adapters, and only *read*: nothing here scales,
records an intent or writes the store. A part that cannot be read is named under ``errors`` with the reason,
and the rest is still reported.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sentinel.config import Cluster
from sentinel.errors import PermanentError, SentinelError, TransientError, shorten
from sentinel.ops import guards, plans, ports, power, readings
from sentinel.ops.powerstate import PowerStore

STORE_PARTS = ("state", "snapshot", "lease", "intent")
CLOUD_PARTS = ("nodegroups", "deployments", "nodes")


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value else None


def _reason(e: Exception) -> str:
    return shorten(e) if isinstance(e, SentinelError) else f"{type(e).__name__}: {shorten(e)}"


# --- status ------------------------------------------------------------------------------------------------


def _read_store(store: PowerStore, out: dict[str, Any], errors: dict[str, str], *, now: dt.datetime) -> None:
    def state() -> None:
        st = store.state()
        out.update(state=st.state, since=_iso(st.since), reason=st.reason, state_event_id=st.event_id)

    def snapshot() -> None:
        snap = store.snapshot()
        out["snapshot"] = snap.as_dict() if snap else None

    def lease() -> None:
        ls = store.lease()
        out["lease"] = None if ls is None else {
            "until": ls.until.isoformat(), "requested_by": ls.requested_by, "reason": ls.reason,
            "active": ls.active(now),
        }

    def intent() -> None:
        it = store.intent()
        out["intent"] = None if it is None else {
            "action": it.action, "event_id": it.event_id, "at": it.at.isoformat(), "seq": it.seq,
            "pending": it.seq > store.done_seq(), "meta": it.meta,
        }

    down: str | None = None
    for part, read in zip(STORE_PARTS, (state, snapshot, lease, intent), strict=True):
        if down is not None:  # the store is out of reach: do not wait for it once per part
            errors[part] = down
            continue
        try:
            read()
        except TransientError as e:
            errors[part] = down = _reason(e)
        except (SentinelError, ValueError, KeyError) as e:
            errors[part] = _reason(e)


def _read_cloud(cluster: Cluster, adapters: Any, out: dict[str, Any], errors: dict[str, str]) -> None:
    try:
        ngs: dict[str, dict[str, int]] = {}
        ng_status: dict[str, str] = {}
        for name in cluster.nodegroups:
            st: ports.NodeGroupState = adapters.nodegroups.describe(name)
            ngs[name] = {"min": st.min, "desired": st.desired, "max": st.max}
            ng_status[name] = st.status
        out["nodegroups"], out["nodegroup_status"] = ngs, ng_status
    except SentinelError as e:
        errors["nodegroups"] = _reason(e)
    kube_down: str | None = None
    try:
        deps: dict[str, int] = {}
        ready: dict[str, int] = {}
        for ref in cluster.system_deployments:
            d: ports.DeploymentState = adapters.kube.deployment(ref)
            deps[ref], ready[ref] = d.replicas, d.ready
        out["deployments"], out["deployments_ready"] = deps, ready
    except TransientError as e:
        errors["deployments"] = kube_down = _reason(e)
    except SentinelError as e:
        errors["deployments"] = _reason(e)
    if kube_down is not None:
        errors["nodes"] = kube_down
        return
    try:
        nodes = adapters.kube.nodes()
        out["nodes_ready"] = {
            name: sum(1 for n in nodes if n.nodegroup == name and n.ready) for name in cluster.nodegroups
        }
        out["nodes_total"] = {name: sum(1 for n in nodes if n.nodegroup == name) for name in cluster.nodegroups}
    except SentinelError as e:
        errors["nodes"] = _reason(e)


def build(name: str, cluster: Cluster, *, store: PowerStore, connect: Callable[[], Any], now: dt.datetime
          ) -> dict[str, Any]:
    """One cluster's status as a JSON-able dict.

    Keys: ``cluster``, ``eks_cluster``, ``state``/``since``/``reason``/``state_event_id``, ``snapshot``,
    ``nodegroups`` (``{name: {min, desired, max}}``), ``nodegroup_status``, ``deployments``
    (``{"ns/name": replicas}``), ``deployments_ready``, ``nodes_ready``/``nodes_total`` (per node group),
    ``lease``, ``intent`` and ``errors`` (``{part: reason}`` for each part that could not be read; such a part
    is ``None``).
    """
    out: dict[str, Any] = {
        "cluster": name, "eks_cluster": cluster.eks_cluster,
        "state": None, "since": None, "reason": None, "state_event_id": None,
        "snapshot": None, "lease": None, "intent": None,
        "nodegroups": None, "nodegroup_status": None, "deployments": None, "deployments_ready": None,
        "nodes_ready": None, "nodes_total": None,
    }
    errors: dict[str, str] = {}
    _read_store(store, out, errors, now=now)
    try:
        adapters = connect()
    except Exception as e:  # any failure to wire the SDKs (bad kubeconfig, no credentials) is reported, not raised
        reason = f"could not connect: {_reason(e)}"
        for part in CLOUD_PARTS:
            errors[part] = reason
    else:
        _read_cloud(cluster, adapters, out, errors)
    out["errors"] = errors
    return out


def anything_read(status: dict[str, Any]) -> bool:
    """``False`` when neither the store nor the cloud answered at all."""
    return len(status.get("errors") or {}) < len(STORE_PARTS) + len(CLOUD_PARTS)


# --- plan preview ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Preview:
    """What ``sentinel sleep|wake`` would do now, without doing it."""

    action: str
    state: str
    observed: plans.Observed
    plan: plans.Plan
    snapshot: plans.Snapshot
    snapshot_source: str
    """``new`` (sleep: taken now), ``resume`` (sleep resumed: the stored one), ``stored`` or ``default`` (wake)."""
    verdict: guards.Verdict | None = None
    """Sleep only (``None`` when the cluster is already asleep: the playbook skips the guard then)."""
    notes: tuple[str, ...] = ()


def preview(action: str, cluster: Cluster, *, store: PowerStore, adapters: Any, now: dt.datetime,
            force: bool = False) -> Preview:
    """The plan the playbook would carry out now (and, for sleep, the guard's verdict). Reads only."""
    if action not in ("sleep", "wake"):
        raise PermanentError(f"unknown action {action!r} (sleep or wake)")
    state = store.state().state
    observed = readings.observe(cluster, adapters)
    previous = store.snapshot()
    notes: list[str] = []
    if action == "wake":
        snap, source = (previous, "stored") if previous else (plans.default_snapshot(cluster, now=now), "default")
        plan = plans.plan_wake(observed, cluster, snapshot=snap)
        if state == "awake" and not plan.steps:
            notes.append("already awake at the snapshot's sizes: the playbook would do nothing")
        return Preview("wake", state, observed, plan, snap, source, None, tuple(notes))
    verdict = None
    if state != "asleep":
        verdict = guards.check_sleep(
            now=now, scheduled=False, force=force, lease=store.lease(),
            running_jobs=[] if force else readings.running_jobs(cluster, adapters, notes),
            serving=None if force else readings.serving(cluster, adapters), recheck=power.RECHECK,
        )
    if state in ("sleeping", "asleep") and previous is not None:
        snap, source = previous, "resume"
    else:
        snap, source = plans.take_snapshot(observed, cluster, previous=previous, now=now), "new"
    plan = plans.plan_sleep(observed, cluster, snapshot=snap)
    return Preview("sleep", state, observed, plan, snap, source, verdict, tuple(notes))

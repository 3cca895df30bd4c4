"""The sleep, wake and keep-awake playbooks.

A request records itself as the cluster's latest *intent*; whoever holds the cluster's lock carries out the
latest intent, step by step, re-reading the cluster before each step. So a worker killed anywhere leaves a state
the redelivered task finishes, and requests that race end where the last one says.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sentinel import logs
from sentinel.config import Cluster
from sentinel.errors import PermanentError, TransientError
from sentinel.events.envelope import utcnow
from sentinel.events.types import KeepAwakeData, PowerData
from sentinel.ops import guards, plans, readings
from sentinel.ops.context import Context
from sentinel.ops.locks import hold
from sentinel.ops.powerstate import Intent, PowerStore

log = logs.get("sentinel.power")
LOCK_WAIT = 2.0
RECHECK = dt.timedelta(minutes=5)


def sleep(ctx: Context, data: PowerData) -> Mapping[str, Any]:
    return request(ctx, "sleep", data)


def wake(ctx: Context, data: PowerData) -> Mapping[str, Any]:
    return request(ctx, "wake", data)


def keep_awake(ctx: Context, data: KeepAwakeData) -> Mapping[str, Any]:
    """Set the lease (scheduled sleeps defer until it ends); a sleeping cluster is woken for it."""
    ctx.cfg.cluster(data.cluster)
    store = PowerStore(ctx.redis, data.cluster)
    now = utcnow()
    if data.until <= now:
        raise PermanentError(f"keep-awake until {data.until.isoformat()} is in the past")
    store.set_lease(guards.Lease(data.until, data.requested_by, data.reason), now=now)
    ctx.note("lease", cluster=data.cluster, until=data.until.isoformat(), requested_by=data.requested_by)
    if store.state().state in ("asleep", "sleeping", "degraded"):
        store.record_intent("wake", event_id=ctx.event.id, at=ctx.event.time, meta={"requested_by": data.requested_by})
        out = dict(converge(ctx, data.cluster))
        out["until"] = data.until.isoformat()
        return out
    return {"cluster": data.cluster, "until": data.until.isoformat()}


def request(ctx: Context, action: str, data: PowerData) -> Mapping[str, Any]:
    ctx.cfg.cluster(data.cluster)  # unknown cluster: PermanentError
    store = PowerStore(ctx.redis, data.cluster)
    meta = {"schedule": data.schedule, "force": data.force, "requested_by": data.requested_by}
    intent, latest = store.record_intent(action, event_id=ctx.event.id, at=ctx.event.time, meta=meta)
    if not latest:
        ctx.note("superseded", cluster=data.cluster, action=action, by=intent.event_id, latest=intent.action)
    return converge(ctx, data.cluster)


def lock_lease(ctx: Context) -> float:
    """Short enough that a dead holder's lock is gone before Redis redelivers its task."""
    return max(5.0, min(30.0, ctx.cfg.broker_visibility_timeout / 2))


def converge(ctx: Context, cluster: str) -> Mapping[str, Any]:
    """Carry out pending intents until none is left.

    While another worker holds the cluster, wait: it carries out the latest intent (ours, or a newer one) and we
    return once nothing is pending; if it died, its lease runs out and we take over.
    """
    store = PowerStore(ctx.redis, cluster)
    outcome: Mapping[str, Any] = {"cluster": cluster, "state": store.state().state}
    deadline = time.monotonic() + ctx.cfg.task_time_limit * 0.8
    waited = False
    while True:
        with hold(ctx.redis, store.k_lock, lease=lock_lease(ctx), wait=LOCK_WAIT) as held:
            if held is not None:
                while (intent := store.pending()) is not None:
                    outcome = Runner(ctx, store, ctx.cfg.cluster(cluster), intent).run()
                    store.mark_done(intent.seq)
            elif not waited:
                waited = True
                ctx.note("queued", cluster=cluster, reason="another playbook holds the cluster; waiting for it")
        # A request that arrived between our last look and the release would find the lock taken: look again.
        if store.pending() is None:
            return outcome if held is not None else {"cluster": cluster, "state": store.state().state,
                                                      "carried_out_by": "another worker"}
        if time.monotonic() > deadline:
            raise TransientError(f"cluster {cluster} is busy with another playbook; will try again")


@dataclass
class Superseded(Exception):
    by: Intent


def token(event_id: str, *parts: str) -> str:
    """The EKS ``clientRequestToken``: the same for a retried step, different for another request."""
    return hashlib.sha256("\x00".join((event_id, *parts)).encode()).hexdigest()[:40]


class Runner:
    """Carries out one intent against the cluster's adapters."""

    def __init__(self, ctx: Context, store: PowerStore, cluster: Cluster, intent: Intent) -> None:
        if ctx.connect is None:
            raise PermanentError("no cloud adapters are wired into this worker")
        self.ctx = ctx
        self.store = store
        self.cluster = cluster
        self.name = store.cluster
        self.intent = intent
        self.ad = ctx.connect(self.name)

    # --- observation ---------------------------------------------------------------------------------------
    def observe(self) -> plans.Observed:
        return readings.observe(self.cluster, self.ad)

    def running_jobs(self) -> list[str]:
        notes: list[str] = []
        jobs = readings.running_jobs(self.cluster, self.ad, notes)
        for n in notes:
            self.ctx.note("guard.note", cluster=self.name, reason=n)
        return jobs

    def serving(self) -> dict[str, Any] | None:
        return readings.serving(self.cluster, self.ad)

    # --- the run -------------------------------------------------------------------------------------------
    def run(self) -> Mapping[str, Any]:
        started = time.monotonic()
        try:
            out = self.sleep() if self.intent.action == "sleep" else self.wake()
        except Superseded as s:
            self.ctx.note("superseded", cluster=self.name, action=self.intent.action, by=s.by.event_id,
                          latest=s.by.action)
            out = {"cluster": self.name, "superseded_by": s.by.event_id}
        out = {**out, "duration_s": round(time.monotonic() - started, 2)}
        log.info("power.done", cluster=self.name, action=self.intent.action, **{k: v for k, v in out.items()
                                                                               if k != "cluster"})
        return out

    def check_superseded(self) -> None:
        cur = self.store.intent()
        if cur is not None and cur.seq != self.intent.seq and cur.action != self.intent.action:
            raise Superseded(cur)

    def transition(self, state: str, *, reason: str = "", snapshot: plans.Snapshot | None = None) -> None:
        now = utcnow()
        if self.store.set_state(state, now=now, event_id=self.intent.event_id, reason=reason):
            snap = snapshot or self.store.snapshot()
            ngs = {
                n: {"nodes": s[1], "instance_type": self.cluster.nodegroups[n].instance_type}
                for n, s in (snap.nodegroups.items() if snap else [])
                if n in self.cluster.nodegroups
            }
            self.ctx.note("transition", cluster=self.name, state=state, reason=reason or None, nodegroups=ngs)

    def sleep(self) -> Mapping[str, Any]:
        meta = self.intent.meta
        state = self.store.state().state
        if state != "asleep":
            verdict = guards.check_sleep(
                now=utcnow(), scheduled=bool(meta.get("schedule")), force=bool(meta.get("force")),
                lease=self.store.lease(), running_jobs=self.running_jobs(), serving=self.serving(), recheck=RECHECK,
            )
            if not verdict.go:
                return self.defer(verdict)
        observed = self.observe()
        previous = self.store.snapshot()
        if state in ("sleeping", "asleep") and previous is not None:
            snap = previous  # resuming: the sizes now are not the awake ones
        else:
            snap = plans.take_snapshot(observed, self.cluster, previous=previous, now=utcnow(),
                                       event_id=self.intent.event_id)
            self.store.save_snapshot(snap)
            self.ctx.note("snapshot", cluster=self.name, version=snap.version, sizes=snap.as_dict())
        self.transition("sleeping", snapshot=snap)
        plan = plans.plan_sleep(observed, self.cluster, snapshot=snap)
        lingering = self.execute(plan, timeout=self.cluster.sleep_timeout)
        self.transition("asleep", reason=lingering, snapshot=snap)
        return {"cluster": self.name, "state": "asleep", "steps": len(plan.steps), "snapshot": snap.version}

    def wake(self) -> Mapping[str, Any]:
        snap = self.store.snapshot() or plans.default_snapshot(self.cluster, now=utcnow())
        observed = self.observe()
        plan = plans.plan_wake(observed, self.cluster, snapshot=snap)
        if self.store.state().state == "awake" and not plan.steps:
            return {"cluster": self.name, "state": "awake", "steps": 0}
        self.transition("waking", snapshot=snap)
        problem = self.execute(plan, timeout=self.cluster.wake_timeout)
        if problem:
            self.transition("degraded", reason=problem, snapshot=snap)
            return {"cluster": self.name, "state": "degraded", "reason": problem}
        self.transition("awake", snapshot=snap)
        return {"cluster": self.name, "state": "awake", "steps": len(plan.steps), "snapshot": snap.version}

    def defer(self, verdict: guards.Verdict) -> Mapping[str, Any]:
        self.ctx.note("deferred", cluster=self.name, action="sleep", reason=verdict.reason,
                      retry_at=verdict.retry_at.isoformat() if verdict.retry_at else None)
        if verdict.retry_at and self.ctx.later is not None:
            root = self.ctx.event.id.split("#recheck@")[0]
            again = self.ctx.event.model_copy(update={"id": f"{root}#recheck@{verdict.retry_at.isoformat()}"})
            self.ctx.later(again, max(1.0, (verdict.retry_at - utcnow()).total_seconds()))
        return {"cluster": self.name, "deferred": verdict.reason}

    def execute(self, plan: plans.Plan, *, timeout: float) -> str:
        """Carry out the steps in order, each verified; returns a problem (a wait that timed out) or ""."""
        deadline = time.monotonic() + timeout
        problems = []
        for step in plan.steps:
            self.check_superseded()
            remaining = max(1.0, deadline - time.monotonic())
            if isinstance(step, plans.ScaleDeployment):
                current = self.ad.kube.deployment(step.ref).replicas
                if current != step.target:
                    self.ad.kube.scale_deployment(step.ref, step.target)
                    self.ctx.note("step", cluster=self.name, step="scale_deployment", target=step.ref,
                                  current=current, desired=step.target)
            elif isinstance(step, plans.ScaleNodeGroup):
                mn, des, mx = step.target
                changed = self.ad.nodegroups.scale(
                    step.nodegroup, min=mn, desired=des, max=mx,
                    token=token(self.intent.event_id, plan.action, step.nodegroup, f"{mn}/{des}/{mx}"),
                )
                if changed:
                    self.ctx.note("step", cluster=self.name, step="scale_nodegroup", target=step.nodegroup,
                                  current="/".join(map(str, step.current)), desired=f"{mn}/{des}/{mx}")
            elif isinstance(step, plans.WaitDeployment):
                if not self.ad.kube.wait_deployment_ready(step.ref, step.replicas, timeout=remaining):
                    problem = f"{step.ref}: not {step.replicas} ready after {timeout:g}s"
                    if plan.action == "wake":
                        return problem
                    problems.append(problem)
            elif isinstance(step, plans.WaitNodesReady):
                if not self.ad.kube.wait_nodes(step.nodegroup, ready=step.count, timeout=remaining):
                    return f"node group {step.nodegroup}: fewer than {step.count} Ready nodes after {timeout:g}s"
                self.ctx.note("step", cluster=self.name, step="nodes_ready", target=step.nodegroup, ready=step.count)
            elif isinstance(step, plans.WaitNodesGone):
                if not self.ad.kube.wait_no_nodes(list(step.nodegroups), timeout=remaining):
                    problems.append(f"nodes still present after {timeout:g}s")
                else:
                    self.ctx.note("step", cluster=self.name, step="nodes_gone", target=",".join(step.nodegroups))
        return "; ".join(problems)

"""What the playbooks, ``sentinel status`` and ``sentinel plan`` read off the cluster, in one place."""

from __future__ import annotations

from typing import Any

from sentinel.config import Cluster
from sentinel.errors import PermanentError, SentinelError, TransientError, shorten
from sentinel.ops import plans

ACTIVE_RAYJOB = ("PENDING", "RUNNING")


def observe(cluster: Cluster, adapters: Any) -> plans.Observed:
    """The live sizes the playbooks plan from ."""
    ngs = {name: adapters.nodegroups.describe(name).sizes for name in cluster.nodegroups}
    deps = {ref: adapters.kube.deployment(ref).replicas for ref in cluster.system_deployments}
    return plans.Observed(nodegroups=ngs, deployments=deps)


def running_jobs(cluster: Cluster, adapters: Any, notes: list[str]) -> list[str]:
    """Running Ray jobs (Jobs API); with the dashboard out of reach, RayJob objects. ``notes`` says which."""
    try:
        return [j.submission_id or j.job_id or "?" for j in adapters.ray.running()]
    except SentinelError as e:
        notes.append(f"Ray unreachable ({shorten(e)}): running jobs taken from RayJob objects instead")
    lister = getattr(adapters.kube, "list_custom_objects", None)
    if lister is None:
        notes.append("RayJob objects cannot be listed here: the guard is judged without Ray jobs")
        return []
    try:
        objs = lister("RayJob", cluster.ray.namespace)
    except (TransientError, PermanentError) as e:
        notes.append(f"RayJob objects unreadable ({shorten(e)}): the guard is judged without Ray jobs")
        return []
    return [o["metadata"]["name"] for o in objs
            if (o.get("status") or {}).get("jobStatus") in ACTIVE_RAYJOB]


def serving(cluster: Cluster, adapters: Any) -> dict[str, Any] | None:
    """The RayService that must stay up (``ray.keep_awake_while_serving``) when it is healthy, else ``None``."""
    ray = cluster.ray
    if not (ray.keep_awake_while_serving and ray.rayservice):
        return None
    obj = adapters.kube.custom_object("RayService", ray.namespace, ray.rayservice)
    if obj is None:
        return None
    status = obj.get("status") or {}
    healthy = status.get("serviceStatus") in ("Running", "HEALTHY") or any(
        c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or []
    )
    return {"name": ray.rayservice} if healthy else None

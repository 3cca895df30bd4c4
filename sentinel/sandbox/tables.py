"""``meta.k8s.io/v1`` ``Table`` responses, so ``kubectl get`` prints the columns a real cluster prints."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from sentinel.sandbox import kinds
from sentinel.sandbox.kinds import Kind

Obj = dict[str, Any]


def wants_table(accept: str) -> bool:
    return "as=Table" in accept


def age(created: str | None, *, now: dt.datetime | None = None) -> str:
    """kubectl's short human duration: ``45s``, ``5m12s``, ``47m``, ``3h5m``, ``20h``, ``2d4h``, ``12d``."""
    if not created:
        return "<unknown>"
    then = dt.datetime.strptime(created, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)
    s = max(0, int(((now or dt.datetime.now(dt.UTC)) - then).total_seconds()))
    m, h, d = s // 60, s // 3600, s // 86400
    if s < 120:
        return f"{s}s"
    if m < 10:
        return f"{m}m{s % 60}s" if s % 60 else f"{m}m"
    if h < 3:
        return f"{m}m"
    if h < 8:
        return f"{h}h{m % 60}m" if m % 60 else f"{h}h"
    if h < 48:
        return f"{h}h"
    if d < 8:
        return f"{d}d{h % 24}h" if h % 24 else f"{d}d"
    return f"{d}d"


def _ready(obj: Obj) -> bool:
    conds = (obj.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conds)


def _node(o: Obj) -> list[Any]:
    state = "Ready" if _ready(o) else "NotReady"
    if (o.get("spec") or {}).get("unschedulable"):
        state += ",SchedulingDisabled"
    version = ((o.get("status") or {}).get("nodeInfo") or {}).get("kubeletVersion", "")
    return [state, "<none>", _age(o), version]


def _deployment(o: Obj) -> list[Any]:
    st, want = o.get("status") or {}, (o.get("spec") or {}).get("replicas", 1)
    return [
        f"{st.get('readyReplicas', 0)}/{want}",
        st.get("updatedReplicas", 0),
        st.get("availableReplicas", 0),
        _age(o),
    ]


def _pod(o: Obj) -> list[Any]:
    st = o.get("status") or {}
    phase = "Terminating" if o["metadata"].get("deletionTimestamp") else st.get("phase", "Pending")
    ready = 1 if phase == "Running" else 0
    return [
        f"{ready}/1",
        phase,
        0,
        _age(o),
        st.get("podIP") or "<none>",
        (o.get("spec") or {}).get("nodeName") or "<none>",
    ]


def _namespace(o: Obj) -> list[Any]:
    return [(o.get("status") or {}).get("phase", "Active"), _age(o)]


def _raycluster(o: Obj) -> list[Any]:
    st = o.get("status") or {}
    return [st.get("desiredWorkerReplicas", 0), st.get("availableWorkerReplicas", 0), st.get("state", ""), _age(o)]


def _rayservice(o: Obj) -> list[Any]:
    st = o.get("status") or {}
    return [st.get("serviceStatus", ""), st.get("numServeEndpoints", 0), _age(o)]


def _rayjob(o: Obj) -> list[Any]:
    st = o.get("status") or {}
    return [st.get("jobStatus", ""), st.get("jobDeploymentStatus", ""), _age(o)]


def _age(o: Obj) -> str:
    return age(o["metadata"].get("creationTimestamp"))


def _col(name: str, kind: str = "string", priority: int = 0) -> dict[str, Any]:
    return {
        "name": name,
        "type": kind,
        "format": "name" if name == "Name" else "",
        "description": name,
        "priority": priority,
    }


_COLUMNS: dict[str, tuple[list[dict[str, Any]], Callable[[Obj], list[Any]]]] = {
    kinds.NODE.key: ([_col("Status"), _col("Roles"), _col("Age"), _col("Version")], _node),
    kinds.DEPLOYMENT.key: (
        [_col("Ready"), _col("Up-to-date", "integer"), _col("Available", "integer"), _col("Age")],
        _deployment,
    ),
    kinds.POD.key: (
        [
            _col("Ready"),
            _col("Status"),
            _col("Restarts", "integer"),
            _col("Age"),
            _col("IP", priority=1),
            _col("Node", priority=1),
        ],
        _pod,
    ),
    kinds.NAMESPACE.key: ([_col("Status"), _col("Age")], _namespace),
    kinds.RAYCLUSTER.key: (
        [_col("Desired Workers", "integer"), _col("Available Workers", "integer"), _col("Status"), _col("Age")],
        _raycluster,
    ),
    kinds.RAYSERVICE.key: ([_col("Service Status"), _col("Num Serve Endpoints", "integer"), _col("Age")], _rayservice),
    kinds.RAYJOB.key: ([_col("Job Status"), _col("Deployment Status"), _col("Age")], _rayjob),
}


def table(kind: Kind, items: list[Obj], *, resource_version: int, headers: bool = True) -> dict[str, Any]:
    columns, cells = _COLUMNS.get(kind.key, ([_col("Age")], lambda o: [_age(o)]))
    rows = [
        {
            "cells": [o["metadata"]["name"], *cells(o)],
            "object": {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": o["metadata"]},
        }
        for o in items
    ]
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": str(resource_version)},
        "columnDefinitions": [_col("Name"), *columns] if headers else [],
        "rows": rows,
    }

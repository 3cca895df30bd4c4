"""The seeded initial state of the emulated cluster, built from the config: what a freshly woken EKS cluster holds."""

from __future__ import annotations

from typing import Any

from sentinel.config import Cluster
from sentinel.sandbox import kinds
from sentinel.sandbox.kinds import Kind

Obj = dict[str, Any]
DEFAULT_RAYCLUSTER = "sentinel-training-cluster"
RAY_IMAGE = "rayproject/ray:2.50.0"
CLUSTER_AUTOSCALER = "kube-system/cluster-autoscaler"
_SYSTEM = {
    "kube-system/coredns": (
        {"k8s-app": "kube-dns"},
        "602401143452.dkr.ecr.us-west-2.amazonaws.com/eks/coredns:v1.11.4",
    ),
    "kube-system/metrics-server": (
        {"k8s-app": "metrics-server"},
        "registry.k8s.io/metrics-server/metrics-server:v0.7.2",
    ),
    CLUSTER_AUTOSCALER: ({"app": "cluster-autoscaler"}, "registry.k8s.io/autoscaling/cluster-autoscaler:v1.32.0"),
}


def deployment(ref: str, replicas: int) -> Obj:
    ns, name = ref.split("/", 1)
    labels, image = _SYSTEM.get(ref, ({"app.kubernetes.io/name": name}, f"public.ecr.aws/sentinel/{name}:latest"))
    template: Obj = {
        "metadata": {"labels": dict(labels)},
        "spec": {"containers": [{"name": name, "image": image}], "priorityClassName": "system-cluster-critical"},
    }
    if ref == CLUSTER_AUTOSCALER:  # as in the EKS manifest
        template["metadata"]["annotations"] = {"cluster-autoscaler.kubernetes.io/safe-to-evict": "false"}
    return {
        "metadata": {"name": name, "namespace": ns, "labels": dict(labels)},
        "spec": {"replicas": replicas, "selector": {"matchLabels": dict(labels)}, "template": template},
    }


def _ray_template(role: str) -> Obj:
    return {
        "spec": {
            "containers": [
                {"name": f"ray-{role}", "image": RAY_IMAGE, "resources": {"requests": {"cpu": "1", "memory": "2Gi"}}}
            ]
        }
    }


def raycluster(name: str, namespace: str) -> Obj:
    return {
        "metadata": {"name": name, "namespace": namespace, "labels": {"app.kubernetes.io/part-of": "sentinel"}},
        "spec": {
            "rayVersion": "2.50.0",
            "headGroupSpec": {"rayStartParams": {"dashboard-host": "0.0.0.0"}, "template": _ray_template("head")},
            "workerGroupSpecs": [
                {
                    "groupName": "workers",
                    "replicas": 1,
                    "minReplicas": 0,
                    "maxReplicas": 4,
                    "rayStartParams": {},
                    "template": _ray_template("worker"),
                }
            ],
        },
    }


def rayservice(name: str, namespace: str) -> Obj:
    return {
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"serveConfigV2": "applications: []\n", "rayClusterConfig": raycluster(name, namespace)["spec"]},
    }


def objects(cluster: Cluster) -> list[tuple[Kind, Obj]]:
    """Namespaces, system deployments and the Ray objects, in creation order (nodes come from the node lifecycle)."""
    refs = list(dict.fromkeys([*cluster.system_deployments, *_SYSTEM]))
    namespaces = list(
        dict.fromkeys(["default", "kube-system", *(r.split("/")[0] for r in refs), cluster.ray.namespace])
    )
    out: list[tuple[Kind, Obj]] = [
        (kinds.NAMESPACE, {"metadata": {"name": ns}, "status": {"phase": "Active"}}) for ns in namespaces
    ]
    out += [(kinds.DEPLOYMENT, deployment(ref, cluster.default_replicas(ref))) for ref in refs]
    out.append((kinds.RAYCLUSTER, raycluster(cluster.ray.raycluster or DEFAULT_RAYCLUSTER, cluster.ray.namespace)))
    if cluster.ray.rayservice:
        out.append((kinds.RAYSERVICE, rayservice(cluster.ray.rayservice, cluster.ray.namespace)))
    return out

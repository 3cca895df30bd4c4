"""The resource types the emulator serves, and the discovery documents kubectl reads to find them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

VERBS = ["create", "delete", "get", "list", "patch", "update", "watch"]
SUB_VERBS = ["get", "patch", "update"]


@dataclass(frozen=True)
class Kind:
    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    has_generation: bool = True
    scale: bool = False
    custom: bool = False
    """A CustomResourceDefinition's kind: no strategic merge patch (the real API answers 415)."""
    field_labels: tuple[str, ...] = ()
    """Fields a ``fieldSelector`` may name besides ``metadata.name`` and ``metadata.namespace``."""

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def key(self) -> str:
        return f"{self.group}/{self.plural}"

    @property
    def singular(self) -> str:
        return self.kind.lower()

    @property
    def list_kind(self) -> str:
        return f"{self.kind}List"


NAMESPACE = Kind(
    "", "v1", "Namespace", "namespaces", False, ("ns",), has_generation=False, field_labels=("status.phase",)
)
NODE = Kind("", "v1", "Node", "nodes", False, ("no",), has_generation=False, field_labels=("spec.unschedulable",))
POD = Kind(
    "",
    "v1",
    "Pod",
    "pods",
    True,
    ("po",),
    ("all",),
    has_generation=False,
    field_labels=("spec.nodeName", "status.phase", "spec.schedulerName", "spec.serviceAccountName"),
)
DEPLOYMENT = Kind("apps", "v1", "Deployment", "deployments", True, ("deploy",), ("all",), scale=True)
RAYCLUSTER = Kind("ray.io", "v1", "RayCluster", "rayclusters", True, (), ("all",), custom=True)
RAYSERVICE = Kind("ray.io", "v1", "RayService", "rayservices", True, (), ("all",), custom=True)
RAYJOB = Kind("ray.io", "v1", "RayJob", "rayjobs", True, (), ("all",), custom=True)

ALL: tuple[Kind, ...] = (NAMESPACE, NODE, POD, DEPLOYMENT, RAYCLUSTER, RAYSERVICE, RAYJOB)
_BY_PATH = {(k.group, k.version, k.plural): k for k in ALL}
GROUPS: dict[str, list[str]] = {}
for _k in ALL:
    if _k.group and _k.version not in GROUPS.setdefault(_k.group, []):
        GROUPS[_k.group].append(_k.version)

SERVER_VERSION = {
    "major": "1",
    "minor": "32",
    "gitVersion": "v1.32.0-sentinel-sandbox",
    "gitCommit": "0" * 40,
    "gitTreeState": "clean",
    "buildDate": "2025-01-01T00:00:00Z",
    "goVersion": "go1.23.4",
    "compiler": "gc",
    "platform": "linux/amd64",
}


def lookup(group: str, version: str, plural: str) -> Kind | None:
    return _BY_PATH.get((group, version, plural))


def _resource(k: Kind) -> dict[str, Any]:
    r: dict[str, Any] = {
        "name": k.plural,
        "singularName": k.singular,
        "namespaced": k.namespaced,
        "kind": k.kind,
        "verbs": VERBS,
    }
    if k.short_names:
        r["shortNames"] = list(k.short_names)
    if k.categories:
        r["categories"] = list(k.categories)
    return r


def resource_list(group: str, version: str) -> dict[str, Any] | None:
    kinds = [k for k in ALL if k.group == group and k.version == version]
    if not kinds:
        return None
    resources: list[dict[str, Any]] = []
    for k in kinds:
        resources.append(_resource(k))
        resources.append(
            {
                "name": f"{k.plural}/status",
                "singularName": "",
                "namespaced": k.namespaced,
                "kind": k.kind,
                "verbs": SUB_VERBS,
            }
        )
        if k.scale:
            resources.append(
                {
                    "name": f"{k.plural}/scale",
                    "singularName": "",
                    "namespaced": k.namespaced,
                    "group": "autoscaling",
                    "version": "v1",
                    "kind": "Scale",
                    "verbs": SUB_VERBS,
                }
            )
    gv = f"{group}/{version}" if group else version
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": resources}


def core_versions(server_address: str) -> dict[str, Any]:
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}],
    }


def _group(name: str) -> dict[str, Any]:
    versions = [{"groupVersion": f"{name}/{v}", "version": v} for v in GROUPS[name]]
    return {"name": name, "versions": versions, "preferredVersion": versions[0]}


def group_list() -> dict[str, Any]:
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": [_group(g) for g in GROUPS]}


def group(name: str) -> dict[str, Any] | None:
    if name not in GROUPS:
        return None
    return {"kind": "APIGroup", "apiVersion": "v1", **_group(name)}

"""Contract of the Kube port: the in-memory fake and the official-client adapter against the sandbox's
Kubernetes API emulator (with its simulated node and deployment controllers) behave alike."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from sentinel.config import Cluster
from sentinel.errors import PermanentError
from sentinel.ops import ports
from tests.fakes import FakeCloud

NS_RAY = "sentinel-prod"
RAYCLUSTER = "sentinel-training-cluster"
WAIT = 60.0
"""Generous: the sandbox's boot/drain delays are scaled down, the fake counts one tick per second."""


@dataclass
class Harness:
    port: ports.Kube
    cluster: Cluster
    resize: Callable[[str, int], None]
    """Set a node group's desired size (min 0, max unchanged), as the EKS API would."""


def _fake_harness() -> Harness:
    import yaml

    from sentinel.config import EMBEDDED, from_mapping

    cluster = next(iter(from_mapping(yaml.safe_load(EMBEDDED), env={}).clusters.values()))
    cloud = FakeCloud.awake(cluster)

    def resize(name: str, desired: int) -> None:
        ng = cloud.nodegroups.describe(name)
        cloud.nodegroups.scale(name, min=0, desired=desired, max=ng.max, token=uuid.uuid4().hex)

    return Harness(cloud.kube, cluster, resize)


def _sandbox_harness(sb: Any) -> Harness:
    from sentinel.ops.adapters import connect

    cluster: Cluster = sb.cluster
    adapters = connect(cluster, env=dict(sb.env))

    def resize(name: str, desired: int) -> None:
        ng = adapters.nodegroups.describe(name)
        adapters.nodegroups.scale(name, min=0, desired=desired, max=ng.max, token=uuid.uuid4().hex)

    return Harness(adapters.kube, cluster, resize)


@pytest.fixture(params=["fake", "sandbox"])
def harness(request: pytest.FixtureRequest) -> Harness:
    if request.param == "fake":
        return _fake_harness()
    try:
        sb = request.getfixturevalue("sandbox")
    except pytest.FixtureLookupError:
        pytest.skip("tests.fixtures.sandbox is not there yet")
    return _sandbox_harness(sb)


def _awake(h: Harness) -> None:
    for name, ng in h.cluster.nodegroups.items():
        assert h.port.wait_nodes(name, ready=ng.awake.desired, timeout=WAIT), f"{name} never became Ready"


def test_deployment_scale_round_trip(harness: Harness) -> None:
    _awake(harness)
    ref = "kube-system/coredns"
    assert harness.port.wait_deployment_ready(ref, 2, timeout=WAIT)
    assert harness.port.deployment(ref) == ports.DeploymentState(ref=ref, replicas=2, ready=2)
    harness.port.scale_deployment(ref, 0)
    assert harness.port.deployment(ref).replicas == 0
    assert harness.port.wait_deployment_ready(ref, 0, timeout=WAIT)
    assert harness.port.deployment(ref).ready == 0
    harness.port.scale_deployment(ref, 2)
    assert harness.port.wait_deployment_ready(ref, 2, timeout=WAIT)
    assert harness.port.deployment(ref) == ports.DeploymentState(ref=ref, replicas=2, ready=2)
    assert harness.port.deployment("kube-system/metrics-server").replicas == 1  # the others are untouched


def test_missing_deployment_is_permanent(harness: Harness) -> None:
    with pytest.raises(PermanentError, match="no-such-deploy"):
        harness.port.deployment("kube-system/no-such-deploy")
    with pytest.raises(PermanentError, match="no-such-deploy"):
        harness.port.scale_deployment("kube-system/no-such-deploy", 1)
    with pytest.raises(PermanentError):
        harness.port.deployment("not-a-ref")


def test_nodes_are_listed_by_node_group(harness: Harness) -> None:
    _awake(harness)
    for name, ng in harness.cluster.nodegroups.items():
        mine = harness.port.nodes(name)
        assert len(mine) == ng.awake.desired
        assert {n.nodegroup for n in mine} <= {name}
        assert all(n.ready for n in mine)
    every = {n.name for n in harness.port.nodes()}
    assert every >= {n.name for name in harness.cluster.nodegroups for n in harness.port.nodes(name)}
    assert harness.port.nodes("no-such-group") == []


def test_wait_nodes_follows_the_node_group(harness: Harness) -> None:
    _awake(harness)
    harness.port.scale_deployment("kube-system/cluster-autoscaler", 0)  # as the playbooks do: it fights back
    name = next(n for n, g in harness.cluster.nodegroups.items() if g.awake.max >= 3)
    harness.resize(name, 3)
    assert harness.port.wait_nodes(name, ready=3, timeout=WAIT)
    assert [n.ready for n in harness.port.nodes(name)] == [True, True, True]
    harness.resize(name, 0)
    assert harness.port.wait_no_nodes([name], timeout=WAIT)
    assert harness.port.nodes(name) == []
    others = [n for n in harness.cluster.nodegroups if n != name]
    for other in others:
        assert len(harness.port.nodes(other)) == harness.cluster.nodegroups[other].awake.desired


def test_waits_give_up_at_the_deadline(harness: Harness) -> None:
    _awake(harness)
    name, ng = next(iter(harness.cluster.nodegroups.items()))
    started = time.monotonic()
    assert harness.port.wait_nodes(name, ready=ng.awake.desired + 1, timeout=2) is False
    assert harness.port.wait_no_nodes([name], timeout=2) is False
    assert time.monotonic() - started < 15  # the fake returns at once; the real one within a watch chunk


def test_custom_object_get_and_patch(harness: Harness) -> None:
    obj = harness.port.custom_object("RayCluster", NS_RAY, RAYCLUSTER)
    assert obj is not None
    assert obj["metadata"]["name"] == RAYCLUSTER
    patched = harness.port.patch_custom_object(
        "RayCluster", NS_RAY, RAYCLUSTER, {"metadata": {"annotations": {"sentinel/asleep": "true"}}}
    )
    assert patched["metadata"]["annotations"]["sentinel/asleep"] == "true"
    again = harness.port.custom_object("RayCluster", NS_RAY, RAYCLUSTER)
    assert again is not None and again["metadata"]["annotations"]["sentinel/asleep"] == "true"
    assert again["spec"] == obj["spec"]  # a merge patch leaves the rest alone
    unset = {"metadata": {"annotations": {"sentinel/asleep": None}}}
    harness.port.patch_custom_object("RayCluster", NS_RAY, RAYCLUSTER, unset)
    final = harness.port.custom_object("RayCluster", NS_RAY, RAYCLUSTER)
    assert final is not None and "sentinel/asleep" not in (final["metadata"].get("annotations") or {})


def test_missing_custom_object_is_none_and_cannot_be_patched(harness: Harness) -> None:
    assert harness.port.custom_object("RayService", NS_RAY, "no-such-service") is None
    with pytest.raises(PermanentError):
        harness.port.patch_custom_object("RayService", NS_RAY, "no-such-service", {"spec": {}})
    with pytest.raises(PermanentError, match="kind"):
        harness.port.custom_object("Pod", NS_RAY, "x")


def test_custom_objects_are_listed_by_kind_and_namespace(harness: Harness) -> None:
    clusters = harness.port.list_custom_objects("RayCluster", NS_RAY)
    assert [o["metadata"]["name"] for o in clusters] == [RAYCLUSTER]
    assert all(o["kind"] == "RayCluster" for o in clusters)
    assert harness.port.list_custom_objects("RayJob", NS_RAY) == []
    assert harness.port.list_custom_objects("RayCluster", "default") == []

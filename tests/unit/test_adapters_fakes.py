"""The fakes' own simulation (what the contract suites cannot reach): ticks, fault injection, call records."""

from __future__ import annotations

import pytest

from sentinel.config import Cluster
from sentinel.errors import PermanentError, TransientError
from tests.fakes import FakeCloud, FakeKube, FakeNodeGroups
from tests.fakes.kube import merge_patch

CLUSTER = Cluster.model_validate(
    {
        "eks_cluster": "training",
        "nodegroups": {
            "managed-ng-1": {"awake": {"min": 2, "desired": 2, "max": 4}},
            "worker-group-spot-1": {"awake": {"min": 0, "desired": 1, "max": 5}},
        },
        "ray": {"namespace": "sentinel-prod", "raycluster": "sentinel-training-cluster"},
    }
)


def test_an_awake_cloud_matches_its_config() -> None:
    cloud = FakeCloud.awake(CLUSTER)
    assert cloud.nodegroups.describe("managed-ng-1").sizes == (2, 2, 4)
    assert [n.ready for n in cloud.kube.nodes("managed-ng-1")] == [True, True]
    assert len(cloud.kube.nodes("worker-group-spot-1")) == 1
    assert cloud.kube.deployment("kube-system/coredns").ready == 2
    assert cloud.kube.custom_object("RayCluster", "sentinel-prod", "sentinel-training-cluster") is not None


def test_nodes_drain_after_scale_to_zero_and_boot_after_scale_up() -> None:
    cloud = FakeCloud.awake(CLUSTER, boot_ticks=3, drain_ticks=2)
    cloud.nodegroups.scale("managed-ng-1", min=0, desired=0, max=4, token="t1")
    assert cloud.kube.wait_no_nodes(["managed-ng-1"], timeout=2) is False  # 2 ticks are not enough for 2 drains
    assert cloud.kube.wait_no_nodes(["managed-ng-1"], timeout=10) is True
    assert cloud.kube.nodes("worker-group-spot-1")  # untouched
    cloud.nodegroups.scale("managed-ng-1", min=2, desired=2, max=4, token="t2")
    assert cloud.kube.wait_nodes("managed-ng-1", ready=2, timeout=30) is True
    assert cloud.kube.calls == [
        ("wait_no_nodes", ("managed-ng-1",)),
        ("wait_no_nodes", ("managed-ng-1",)),
        ("wait_nodes", "managed-ng-1", 2),
    ]


def test_deployments_are_ready_only_as_far_as_ready_nodes_allow() -> None:
    ngs = FakeNodeGroups().add("ng", min=0, desired=0, max=2)
    kube = FakeKube(nodegroups=ngs, boot_ticks=2)
    kube.add_deployment("kube-system/coredns", 0)
    kube.scale_deployment("kube-system/coredns", 2)
    assert kube.wait_deployment_ready("kube-system/coredns", 2, timeout=5) is False  # no node to run on
    ngs.scale("ng", min=1, desired=1, max=2, token="t")
    assert kube.wait_deployment_ready("kube-system/coredns", 2, timeout=5) is True
    assert kube.deployment("kube-system/coredns").ready == 2


def test_scale_records_every_request_but_updates_only_changes() -> None:
    ngs = FakeNodeGroups().add("ng", min=2, desired=2, max=4)
    ngs.scale("ng", min=0, desired=0, max=4, token="a")
    ngs.scale("ng", min=0, desired=0, max=4, token="b")
    assert ngs.calls == [("scale", "ng", 0, 0, 4), ("scale", "ng", 0, 0, 4)]
    assert ngs.updates == [("ng", 0, 0, 4)]


def test_a_busy_group_and_injected_faults_raise_what_the_adapter_would() -> None:
    ngs = FakeNodeGroups().add("ng", min=2, desired=2, max=4)
    ngs.busy("ng")
    with pytest.raises(TransientError, match="ResourceInUseException"):
        ngs.scale("ng", min=0, desired=0, max=4, token="a")
    ngs.busy("ng", False)
    ngs.fail("describe", TransientError("throttled"))
    with pytest.raises(TransientError, match="throttled"):
        ngs.describe("ng")
    assert ngs.describe("ng").sizes == (2, 2, 4)  # only the next call fails


def test_a_reused_token_with_other_sizes_is_refused() -> None:
    ngs = FakeNodeGroups().add("ng", min=2, desired=2, max=4)
    ngs.scale("ng", min=0, desired=0, max=4, token="a")
    with pytest.raises(PermanentError, match="token"):
        ngs.scale("ng", min=1, desired=1, max=4, token="a")


def test_merge_patch_follows_rfc7386() -> None:
    assert merge_patch({"a": {"b": 1, "c": 2}, "d": 3}, {"a": {"b": None, "e": 4}, "d": [1]}) == {
        "a": {"c": 2, "e": 4},
        "d": [1],
    }

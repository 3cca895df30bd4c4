"""Contract of the NodeGroups port: the in-memory fake and the boto3 adapter — against a bare moto EKS server
and against the sandbox's EKS endpoint — behave alike, so playbook tests on the fake say something real."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from moto.moto_server.threaded_moto_server import ThreadedMotoServer

from sentinel.errors import PermanentError
from sentinel.ops import ports
from sentinel.ops.adapters import eks
from tests.fakes import FakeNodeGroups

REGION = "ap-southeast-2"
GROUPS = {"managed-ng-1": (2, 2, 4), "worker-group-spot-1": (0, 1, 5)}
CREDS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing"}


@dataclass
class Harness:
    port: ports.NodeGroups
    update_calls: Callable[[], int]
    """How many UpdateNodegroupConfig requests reached the API so far."""


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture(scope="module")
def moto_admin(moto_endpoint: str) -> Any:
    return boto3.session.Session(region_name=REGION, **_session_creds()).client("eks", endpoint_url=moto_endpoint)


def _seed(admin: Any) -> str:
    """A fresh EKS cluster (its own name: no server reset between tests) with the two node groups."""
    cluster = f"contract-{uuid.uuid4().hex[:8]}"
    admin.create_cluster(
        name=cluster,
        roleArn="arn:aws:iam::123456789012:role/eks",
        resourcesVpcConfig={"subnetIds": ["subnet-1"]},
    )
    for name, (lo, want, hi) in GROUPS.items():
        admin.create_nodegroup(
            clusterName=cluster,
            nodegroupName=name,
            nodeRole="arn:aws:iam::123456789012:role/node",
            subnets=["subnet-1"],
            scalingConfig={"minSize": lo, "desiredSize": want, "maxSize": hi},
        )
    return cluster


def _session_creds() -> dict[str, str]:
    return {
        "aws_access_key_id": CREDS["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": CREDS["AWS_SECRET_ACCESS_KEY"],
        "aws_session_token": CREDS["AWS_SESSION_TOKEN"],
    }


def _counting(client: Any) -> Callable[[], int]:
    count = [0]
    lock = threading.Lock()

    def seen(**_: Any) -> None:
        with lock:
            count[0] += 1

    client.meta.events.register("before-call.eks.UpdateNodegroupConfig", seen)
    return lambda: count[0]


@pytest.fixture(params=["fake", "moto", "sandbox"])
def harness(request: pytest.FixtureRequest) -> Harness:
    if request.param == "fake":
        fake = FakeNodeGroups()
        for name, (lo, want, hi) in GROUPS.items():
            fake.add(name, min=lo, desired=want, max=hi)
        return Harness(fake, lambda: len(fake.updates))
    if request.param == "sandbox":
        try:
            sb = request.getfixturevalue("sandbox")
        except pytest.FixtureLookupError:
            pytest.skip("tests.fixtures.sandbox is not there yet")
        seeded = {name: (g.awake.min, g.awake.desired, g.awake.max) for name, g in sb.cluster.nodegroups.items()}
        assert seeded == GROUPS, "the sandbox's embedded config changed: update GROUPS"
        client = eks.client(sb.cluster.region, env=dict(sb.env), max_attempts=2)
        return Harness(eks.EksNodeGroups(sb.cluster.eks_cluster, client), _counting(client))
    endpoint = request.getfixturevalue("moto_endpoint")
    cluster = _seed(request.getfixturevalue("moto_admin"))
    client = eks.client(REGION, env={**CREDS, "AWS_ENDPOINT_URL": endpoint}, max_attempts=2)
    return Harness(eks.EksNodeGroups(cluster, client), _counting(client))


def token() -> str:
    return uuid.uuid4().hex


def test_describe_reports_the_scaling_config(harness: Harness) -> None:
    state = harness.port.describe("managed-ng-1")
    assert (state.name, state.sizes, state.status) == ("managed-ng-1", (2, 2, 4), "ACTIVE")
    assert harness.port.describe("worker-group-spot-1").sizes == (0, 1, 5)


def test_scale_to_zero_keeps_max_and_is_visible(harness: Harness) -> None:
    assert harness.port.scale("managed-ng-1", min=0, desired=0, max=4, token=token()) is True
    assert harness.port.describe("managed-ng-1").sizes == (0, 0, 4)
    assert harness.port.describe("worker-group-spot-1").sizes == (0, 1, 5)  # the other group is untouched
    assert harness.update_calls() == 1


def test_scale_back_up_restores_the_snapshot(harness: Harness) -> None:
    harness.port.scale("managed-ng-1", min=0, desired=0, max=4, token=token())
    harness.port.scale("managed-ng-1", min=2, desired=2, max=4, token=token())
    assert harness.port.describe("managed-ng-1").sizes == (2, 2, 4)
    assert harness.update_calls() == 2


def test_rescale_to_current_sizes_makes_no_update_call(harness: Harness) -> None:
    assert harness.port.scale("managed-ng-1", min=2, desired=2, max=4, token=token()) is False
    harness.port.scale("worker-group-spot-1", min=0, desired=0, max=5, token=token())
    assert harness.port.scale("worker-group-spot-1", min=0, desired=0, max=5, token=token()) is False
    assert harness.update_calls() == 1


@pytest.mark.parametrize(
    ("sizes", "why"),
    [
        ((0, 0, 0), "max (0) is below 1"),
        ((-1, 0, 4), "min (-1) is negative"),
        ((3, 2, 4), "min (3) is above desired (2)"),
        ((0, 5, 4), "desired (5) is above max (4)"),
    ],
)
def test_invalid_sizes_are_permanent_and_change_nothing(
    harness: Harness, sizes: tuple[int, int, int], why: str
) -> None:
    lo, want, hi = sizes
    with pytest.raises(PermanentError, match=why.replace("(", r"\(").replace(")", r"\)")):
        harness.port.scale("managed-ng-1", min=lo, desired=want, max=hi, token=token())
    assert harness.port.describe("managed-ng-1").sizes == (2, 2, 4)
    assert harness.update_calls() == 0


def test_unknown_group_is_permanent(harness: Harness) -> None:
    with pytest.raises(PermanentError, match="no-such-group"):
        harness.port.describe("no-such-group")
    with pytest.raises(PermanentError, match="no-such-group"):
        harness.port.scale("no-such-group", min=0, desired=0, max=1, token=token())

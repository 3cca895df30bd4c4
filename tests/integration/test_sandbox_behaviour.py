"""The sandbox behaves like the cluster Sentinel acts on: boto3 → moto → simulated controllers → Kubernetes API."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import unquote_plus

import botocore.exceptions
import pytest
from kubernetes import client

from sentinel.sandbox import Sandbox
from tests.fixtures.sandbox import aws_client, kube_client

EKS = "du-yuyang-training"


def _ready_nodes(core: client.CoreV1Api, nodegroup: str) -> list[str]:
    nodes = core.list_node(label_selector=f"eks.amazonaws.com/nodegroup={nodegroup}").items
    return [
        n.metadata.name for n in nodes if any(c.type == "Ready" and c.status == "True" for c in n.status.conditions)
    ]


def _scale_nodegroup(sb: Sandbox, nodegroup: str, **sizes: int) -> dict:
    return aws_client(sb, "eks").update_nodegroup_config(clusterName=EKS, nodegroupName=nodegroup, scalingConfig=sizes)


def test_desired_two_gives_two_ready_nodes_after_the_boot_delay(sandbox: Sandbox) -> None:
    core = client.CoreV1Api(kube_client(sandbox))
    assert len(_ready_nodes(core, "worker-group-spot-1")) == 1
    started = time.monotonic()
    _scale_nodegroup(sandbox, "worker-group-spot-1", desiredSize=2)
    sandbox.wait_until(
        lambda: len(core.list_node(label_selector="eks.amazonaws.com/nodegroup=worker-group-spot-1").items) == 2,
        timeout=5,
    )
    assert len(_ready_nodes(core, "worker-group-spot-1")) == 1, "the new node boots first (NotReady)"
    sandbox.wait_until(lambda: len(_ready_nodes(core, "worker-group-spot-1")) == 2, timeout=10)
    boot = sandbox.cluster_seconds(90)
    assert time.monotonic() - started >= boot * 0.9, "Ready no sooner than the (scaled) 90 s boot delay"
    kinds = [e.kind for e in sandbox.history]
    assert kinds.index("nodegroup.scaled") < kinds.index("node.created") < kinds.index("node.ready")


def test_desired_zero_removes_the_nodes_and_coredns_goes_unready(sandbox: Sandbox) -> None:
    api = kube_client(sandbox)
    core, apps = client.CoreV1Api(api), client.AppsV1Api(api)
    apps.patch_namespaced_deployment_scale("cluster-autoscaler", "kube-system", {"spec": {"replicas": 0}})
    for ng in ("managed-ng-1", "worker-group-spot-1"):
        _scale_nodegroup(sandbox, ng, minSize=0, desiredSize=0)
    sandbox.wait_until(lambda: not core.list_node().items, timeout=10)
    coredns = sandbox.wait_until(
        lambda: (d := apps.read_namespaced_deployment("coredns", "kube-system")) and not d.status.ready_replicas and d,
        timeout=5,
    )
    assert coredns.spec.replicas == 2 and coredns.status.replicas == 2
    pods = core.list_namespaced_pod("kube-system", label_selector="k8s-app=kube-dns").items
    assert [p.status.phase for p in pods] == ["Pending", "Pending"]
    assert all(c.reason == "Unschedulable" for p in pods for c in p.status.conditions if c.type == "PodScheduled")
    time.sleep(sandbox.cluster_seconds(30))  # three autoscaler scans: a paused autoscaler does nothing
    assert core.list_node().items == [] and sandbox.events("autoscaler.scaled_up") == []
    kinds = [e.kind for e in sandbox.history]
    assert (
        kinds.index("deployment.scaled")
        < kinds.index("nodegroup.scaled")
        < kinds.index("node.draining")
        < kinds.index("node.removed")
    )


def test_an_autoscaler_left_running_scales_the_node_group_back_up(sandbox: Sandbox) -> None:
    core = client.CoreV1Api(kube_client(sandbox))
    for ng in ("managed-ng-1", "worker-group-spot-1"):
        _scale_nodegroup(sandbox, ng, minSize=0, desiredSize=0)
    up = sandbox.wait_until(lambda: sandbox.events("autoscaler.scaled_up"), timeout=10)[0]
    assert (up.old, up.new) == (0, 1)
    eks = aws_client(sandbox, "eks")
    desired = eks.describe_nodegroup(clusterName=EKS, nodegroupName=up.name)["nodegroup"]["scalingConfig"][
        "desiredSize"
    ]
    assert desired >= 1, "the autoscaler's change is visible through the EKS API"
    sandbox.wait_until(lambda: _ready_nodes(core, up.name), timeout=10)


def test_reset_returns_to_the_awake_state_quickly(sandbox: Sandbox) -> None:
    api = kube_client(sandbox)
    core, apps = client.CoreV1Api(api), client.AppsV1Api(api)
    _scale_nodegroup(sandbox, "managed-ng-1", minSize=0, desiredSize=0, maxSize=1)
    apps.patch_namespaced_deployment_scale("coredns", "kube-system", {"spec": {"replicas": 0}})
    core.create_namespace({"metadata": {"name": "scratch"}})
    s3 = aws_client(sandbox, "s3")
    s3.put_object(Bucket="training-artifacts", Key="data/ratings/old.csv", Body=b"1,2,3\n")
    started = time.monotonic()
    sandbox.reset()
    assert time.monotonic() - started < 2.0
    assert len(_ready_nodes(core, "managed-ng-1")) == 2 and len(_ready_nodes(core, "worker-group-spot-1")) == 1
    sizes = aws_client(sandbox, "eks").describe_nodegroup(clusterName=EKS, nodegroupName="managed-ng-1")
    assert sizes["nodegroup"]["scalingConfig"] == {"minSize": 2, "maxSize": 4, "desiredSize": 2}
    assert apps.read_namespaced_deployment("coredns", "kube-system").status.ready_replicas == 2
    assert "scratch" not in [n.metadata.name for n in core.list_namespace().items]
    assert s3.list_objects_v2(Bucket="training-artifacts").get("KeyCount") == 0
    sqs = aws_client(sandbox, "sqs")
    url = sqs.get_queue_url(QueueName="sentinel-s3-events")["QueueUrl"]
    assert "Messages" not in sqs.receive_message(QueueUrl=url, WaitTimeSeconds=0)
    assert sandbox.history == []


def test_s3_uploads_under_the_prefix_notify_the_queue(sandbox: Sandbox) -> None:
    s3, sqs = aws_client(sandbox, "s3"), aws_client(sandbox, "sqs")
    url = sqs.get_queue_url(QueueName="sentinel-s3-events")["QueueUrl"]
    s3.put_object(Bucket="training-artifacts", Key="models/ignored.bin", Body=b"x")
    s3.put_object(Bucket="training-artifacts", Key="data/ratings/2025-01-01.csv", Body=b"user,item,rating\n")
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])
    records = [r for m in messages for r in json.loads(m["Body"])["Records"]]
    # keys arrive form-URL-encoded, as AWS documents (moto even encodes "/"): consumers unquote_plus them
    assert [(r["eventName"], unquote_plus(r["s3"]["object"]["key"])) for r in records] == [
        ("ObjectCreated:Put", "data/ratings/2025-01-01.csv")
    ]


def test_eks_updates_behave_like_the_real_api(sandbox: Sandbox) -> None:
    with pytest.raises(botocore.exceptions.ClientError) as e:
        _scale_nodegroup(sandbox, "managed-ng-1", desiredSize=0)  # min is 2
    assert e.value.response["Error"]["Code"] == "InvalidParameterException"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        _scale_nodegroup(sandbox, "managed-ng-1", desiredSize=9)
    assert e.value.response["Error"]["Code"] == "InvalidParameterException"
    eks = aws_client(sandbox, "eks")
    first = eks.update_nodegroup_config(
        clusterName=EKS,
        nodegroupName="worker-group-spot-1",
        scalingConfig={"desiredSize": 0},
        clientRequestToken="sleep-1",
    )["update"]
    again = eks.update_nodegroup_config(
        clusterName=EKS,
        nodegroupName="worker-group-spot-1",
        scalingConfig={"desiredSize": 0},
        clientRequestToken="sleep-1",
    )["update"]
    assert first["id"] == again["id"] and first["status"] == "InProgress"
    assert {p["type"]: p["value"] for p in first["params"]} == {"DesiredSize": "0"}
    assert [(e.old["desiredSize"], e.new["desiredSize"]) for e in sandbox.events("nodegroup.scaled")] == [(1, 0)]


def test_a_subprocess_reaches_everything_through_the_env_alone(sandbox: Sandbox) -> None:
    lines = dict(line.split("=", 1) for line in sandbox.env_file.read_text().splitlines())
    assert lines["KUBECONFIG"] == sandbox.env["KUBECONFIG"] and lines["AWS_ENDPOINT_URL"] == sandbox.aws_endpoint
    code = (
        "import boto3, kubernetes as k;"
        "k.config.load_kube_config();"
        "print(len(k.client.CoreV1Api().list_node().items),"
        f" boto3.client('eks').list_nodegroups(clusterName='{EKS}')['nodegroups'])"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")} | sandbox.env
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "3 ['managed-ng-1', 'worker-group-spot-1']"


def test_controllers_react_to_a_change_and_to_a_due_node_not_to_their_tick(tmp_path: Path) -> None:
    """Like an informer-driven controller: a scaled deployment and a node whose boot delay is over are acted
    on at once, not at the next tick (10 s here). Wall-clock margins are 4x or more."""
    from tests.fixtures.sandbox import embedded_config

    with Sandbox(embedded_config(), workdir=tmp_path, time_scale=90, tick=10.0) as sb:
        apps = client.AppsV1Api(kube_client(sb))
        core = client.CoreV1Api(kube_client(sb))
        time.sleep(0.2)  # past the start-up step: the loop now sleeps for a whole tick
        apps.patch_namespaced_deployment_scale("coredns", "kube-system", {"spec": {"replicas": 3}})
        sb.wait_until(lambda: apps.read_namespaced_deployment("coredns", "kube-system").status.ready_replicas == 3,
                      timeout=2.5)
        started = time.monotonic()
        _scale_nodegroup(sb, "worker-group-spot-1", desiredSize=2)  # B = 90 s of cluster time = 1 s
        sb.wait_until(lambda: len(_ready_nodes(core, "worker-group-spot-1")) == 2, timeout=4)
        assert time.monotonic() - started >= sb.cluster_seconds(90) * 0.9

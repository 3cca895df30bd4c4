"""Contract tests of the Kubernetes API emulator, through the official client, raw HTTP and kubectl."""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
import time

import pytest
import requests
from kubernetes import client, watch
from kubernetes.client import ApiException

from sentinel.sandbox import Sandbox
from tests.fixtures.sandbox import kube_client, subprocess_env

RAY = {"group": "ray.io", "version": "v1", "namespace": "sentinel-prod"}


@pytest.fixture
def api(sandbox: Sandbox) -> client.ApiClient:
    return kube_client(sandbox)


def _status(e: ApiException) -> dict:
    return json.loads(e.body)


def test_scale_subresource_get_patch_and_put(api: client.ApiClient, sandbox: Sandbox) -> None:
    apps = client.AppsV1Api(api)
    scale = apps.read_namespaced_deployment_scale("coredns", "kube-system")
    assert (scale.kind, scale.api_version, scale.spec.replicas) == ("Scale", "autoscaling/v1", 2)
    assert scale.status.selector == "k8s-app=kube-dns"
    patched = apps.patch_namespaced_deployment_scale("coredns", "kube-system", {"spec": {"replicas": 0}})
    assert patched.spec.replicas == 0
    deploy = apps.read_namespaced_deployment("coredns", "kube-system")
    assert deploy.spec.replicas == 0 and deploy.metadata.generation == 2
    for _attempt in range(5):  # a PUT carries the resourceVersion read: controllers' status writes race it
        body = apps.read_namespaced_deployment_scale("coredns", "kube-system")
        body.spec.replicas = 3
        try:
            assert apps.replace_namespaced_deployment_scale("coredns", "kube-system", body).spec.replicas == 3
            break
        except ApiException as e:
            assert e.status == 409
    sandbox.wait_until(lambda: apps.read_namespaced_deployment("coredns", "kube-system").status.ready_replicas == 3)
    scaled = [(e.old, e.new) for e in sandbox.events("deployment.scaled") if e.name == "kube-system/coredns"]
    assert scaled == [(2, 0), (0, 3)]


def test_a_stale_resource_version_gets_409_conflict(api: client.ApiClient) -> None:
    apps = client.AppsV1Api(api)
    old = apps.read_namespaced_deployment("metrics-server", "kube-system")
    old_scale = apps.read_namespaced_deployment_scale("metrics-server", "kube-system")
    apps.patch_namespaced_deployment("metrics-server", "kube-system", {"metadata": {"labels": {"touched": "yes"}}})
    old.spec.replicas = 5
    with pytest.raises(ApiException) as e:
        apps.replace_namespaced_deployment("metrics-server", "kube-system", old)
    assert e.value.status == 409 and _status(e.value)["reason"] == "Conflict"
    old_scale.spec.replicas = 5
    with pytest.raises(ApiException) as e:
        apps.replace_namespaced_deployment_scale("metrics-server", "kube-system", old_scale)
    assert e.value.status == 409
    assert apps.read_namespaced_deployment("metrics-server", "kube-system").spec.replicas == 1


def test_list_nodes_by_label_selector(api: client.ApiClient) -> None:
    core = client.CoreV1Api(api)
    on_demand = core.list_node(label_selector="eks.amazonaws.com/nodegroup=managed-ng-1")
    assert len(on_demand.items) == 2
    assert all(n.metadata.labels["eks.amazonaws.com/nodegroup"] == "managed-ng-1" for n in on_demand.items)
    assert len(core.list_node(label_selector="eks.amazonaws.com/capacityType in (SPOT)").items) == 1
    assert len(core.list_node(label_selector="eks.amazonaws.com/nodegroup!=managed-ng-1").items) == 1
    ready = [c.status for n in on_demand.items for c in n.status.conditions if c.type == "Ready"]
    assert ready == ["True", "True"]
    pods = core.list_namespaced_pod("kube-system", label_selector="k8s-app=kube-dns")
    assert [p.status.phase for p in pods.items] == ["Running", "Running"]


def test_watch_sees_added_and_modified_and_ends_at_timeout_seconds(api: client.ApiClient) -> None:
    apps = client.AppsV1Api(api)
    listed = apps.list_namespaced_deployment("kube-system")
    assert sorted(d.metadata.name for d in listed.items) == ["cluster-autoscaler", "coredns", "metrics-server"]
    threading.Timer(
        0.2, lambda: apps.patch_namespaced_deployment_scale("metrics-server", "kube-system", {"spec": {"replicas": 0}})
    ).start()
    seen: list[tuple[str, str, int | None]] = []
    started = time.monotonic()
    for event in watch.Watch().stream(
        apps.list_namespaced_deployment,
        "kube-system",
        resource_version=listed.metadata.resource_version,
        timeout_seconds=1,
    ):
        seen.append((event["type"], event["object"].metadata.name, event["object"].spec.replicas))
    elapsed = time.monotonic() - started
    assert ("MODIFIED", "metrics-server", 0) in seen
    assert {t for t, _, _ in seen} == {"MODIFIED"}, "nothing before the listed resourceVersion is replayed"
    assert 0.9 <= elapsed < 3.0, f"the stream must end at timeoutSeconds=1, took {elapsed:.2f}s"
    initial = [e["type"] for e in watch.Watch().stream(client.CoreV1Api(api).list_node, timeout_seconds=0)]
    assert initial == ["ADDED"] * 3, "a watch without resourceVersion starts with the current state"


def test_watch_by_label_selector_reports_leaving_objects_as_deleted(api: client.ApiClient, sandbox: Sandbox) -> None:
    core = client.CoreV1Api(api)
    rv = core.list_node().metadata.resource_version
    name = core.list_node(label_selector="eks.amazonaws.com/nodegroup=worker-group-spot-1").items[0].metadata.name
    threading.Timer(
        0.1, lambda: core.patch_node(name, {"metadata": {"labels": {"eks.amazonaws.com/nodegroup": "x"}}})
    ).start()
    events = [
        (e["type"], e["object"].metadata.name)
        for e in watch.Watch().stream(
            core.list_node,
            label_selector="eks.amazonaws.com/nodegroup=worker-group-spot-1",
            resource_version=rv,
            timeout_seconds=1,
        )
    ]
    assert ("DELETED", name) in events


def test_rayservice_create_patch_status_delete(api: client.ApiClient, sandbox: Sandbox) -> None:
    co = client.CustomObjectsApi(api)
    body = {
        "apiVersion": "ray.io/v1",
        "kind": "RayService",
        "metadata": {"name": "recommender"},
        "spec": {"serveConfigV2": "applications: []\n"},
        "status": {"serviceStatus": "Running"},
    }
    created = co.create_namespaced_custom_object(plural="rayservices", body=body, **RAY)
    assert created["metadata"]["generation"] == 1 and "status" not in created, "status is dropped on create"
    merged = co.patch_namespaced_custom_object(
        plural="rayservices",
        name="recommender",
        body={"spec": {"serveConfigV2": "applications: [{name: v2}]\n"}},
        **RAY,
    )
    assert merged["metadata"]["generation"] == 2 and "v2" in merged["spec"]["serveConfigV2"]
    jp = co.patch_namespaced_custom_object(
        plural="rayservices",
        name="recommender",
        _content_type="application/json-patch+json",
        body=[{"op": "add", "path": "/metadata/annotations", "value": {"sentinel/model": "v2"}}],
        **RAY,
    )
    assert jp["metadata"]["annotations"] == {"sentinel/model": "v2"} and jp["metadata"]["generation"] == 2
    st = co.patch_namespaced_custom_object_status(
        plural="rayservices", name="recommender", body={"status": {"serviceStatus": "Running"}}, **RAY
    )
    assert st["status"] == {"serviceStatus": "Running"} and st["metadata"]["generation"] == 2
    listed = co.list_namespaced_custom_object(plural="rayservices", **RAY)
    assert [o["metadata"]["name"] for o in listed["items"]] == ["recommender"]
    with pytest.raises(ApiException) as e:
        co.patch_namespaced_custom_object(
            plural="rayservices",
            name="recommender",
            body={"spec": {}},
            _content_type="application/strategic-merge-patch+json",
            **RAY,
        )
    assert e.value.status == 415, "custom resources do not take strategic merge patches"
    co.delete_namespaced_custom_object(plural="rayservices", name="recommender", **RAY)
    with pytest.raises(ApiException) as e:
        co.get_namespaced_custom_object(plural="rayservices", name="recommender", **RAY)
    assert e.value.status == 404
    kinds = [(h.kind, h.name) for h in sandbox.history if h.kind.startswith("object.")]
    assert kinds == [
        ("object.created", "rayservices/sentinel-prod/recommender"),
        ("object.updated", "rayservices/sentinel-prod/recommender"),
        ("object.deleted", "rayservices/sentinel-prod/recommender"),
    ]


def test_rayjob_and_raycluster_are_served(api: client.ApiClient) -> None:
    co = client.CustomObjectsApi(api)
    rc = co.get_namespaced_custom_object(plural="rayclusters", name="sentinel-training-cluster", **RAY)
    assert rc["status"]["state"] == "ready" and rc["spec"]["workerGroupSpecs"][0]["groupName"] == "workers"
    job = co.create_namespaced_custom_object(
        plural="rayjobs",
        body={
            "apiVersion": "ray.io/v1",
            "kind": "RayJob",
            "metadata": {"generateName": "retrain-"},
            "spec": {"entrypoint": "python -m sentinel.ml.train"},
        },
        **RAY,
    )
    assert job["metadata"]["name"].startswith("retrain-")


def test_missing_objects_and_unknown_kinds_get_a_404_status(api: client.ApiClient, sandbox: Sandbox) -> None:
    with pytest.raises(ApiException) as e:
        client.AppsV1Api(api).read_namespaced_deployment("nope", "kube-system")
    st = _status(e.value)
    assert e.value.status == 404 and st["kind"] == "Status" and st["reason"] == "NotFound"
    assert st["details"] == {"name": "nope", "group": "apps", "kind": "deployments"}
    for path in (
        "/apis/apps/v1/namespaces/kube-system/statefulsets",
        "/apis/nope.io/v1/foos",
        "/api/v2/pods",
        "/api/v1/nodes/x/proxy",
        "/apis/apps/v1/namespaces/kube-system/deployments/coredns/rollback",
    ):
        r = requests.get(sandbox.kube_url + path, timeout=5)
        assert r.status_code == 404 and r.json()["kind"] == "Status", path


def test_bad_requests_get_400_and_the_emulator_survives(sandbox: Sandbox) -> None:
    url = sandbox.kube_url + "/apis/apps/v1/namespaces/kube-system/deployments"
    r = requests.post(url, data=b"{not json", headers={"Content-Type": "application/json"}, timeout=5)
    assert r.status_code == 400 and r.json()["reason"] == "BadRequest"
    r = requests.patch(
        url + "/coredns", data=b"[1,", headers={"Content-Type": "application/merge-patch+json"}, timeout=5
    )
    assert r.status_code == 400
    r = requests.patch(url + "/coredns", json={"spec": {}}, headers={"Content-Type": "text/plain"}, timeout=5)
    assert r.status_code == 415
    r = requests.get(sandbox.kube_url + "/api/v1/pods?labelSelector=a%20b%20c", timeout=5)
    assert r.status_code == 400
    r = requests.put(url + "/coredns/scale", json={"kind": "Scale", "spec": {"replicas": -1}}, timeout=5)
    assert r.status_code == 422
    r = requests.get(url + "/coredns", timeout=5)
    assert r.status_code == 200 and r.json()["spec"]["replicas"] == 2


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
def test_kubectl_works_against_the_generated_kubeconfig(sandbox: Sandbox) -> None:
    env = subprocess_env(sandbox)

    def kubectl(*args: str) -> str:
        p = subprocess.run(["kubectl", *args], env=env, capture_output=True, text=True, timeout=30)
        assert p.returncode == 0, p.stderr
        return p.stdout

    deploys = kubectl("get", "deploy", "-n", "kube-system")
    assert deploys.split()[:5] == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"] and "coredns" in deploys
    assert "2/2" in next(line for line in deploys.splitlines() if line.startswith("coredns"))
    nodes = kubectl("get", "nodes")
    assert sum(1 for line in nodes.splitlines() if " Ready " in line) == 3
    assert "deployment.apps/coredns scaled" in kubectl("scale", "deploy/coredns", "--replicas=0", "-n", "kube-system")
    apps = client.AppsV1Api(kube_client(sandbox))
    assert apps.read_namespaced_deployment("coredns", "kube-system").spec.replicas == 0
    rays = kubectl("get", "rayclusters.ray.io", "-A")
    assert "sentinel-prod" in rays and "sentinel-training-cluster" in rays
    assert json.loads(kubectl("get", "pods", "-n", "kube-system", "-o", "json"))["kind"] == "List"

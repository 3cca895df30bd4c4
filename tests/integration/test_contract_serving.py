"""The RayService deploy target against the sandbox's Kubernetes API (the official client, real HTTP)."""

from __future__ import annotations

from typing import Any

import yaml

from sentinel import config
from sentinel.ops import adapters, ports
from sentinel.ops.adapters import serve
from sentinel.sandbox import Sandbox
from tests.fixtures.sandbox import kube_client


def test_rayservice_serve_config_is_patched_and_followed(sandbox: Sandbox) -> None:
    from kubernetes import client as k8s

    api = k8s.CustomObjectsApi(kube_client(sandbox))
    initial = {"applications": [{"name": "other", "import_path": "x:app", "route_prefix": "/other", "args": {}}]}
    body: dict[str, Any] = {"apiVersion": "ray.io/v1", "kind": "RayService", "metadata": {"name": "sentinel-service"},
                            "spec": {"serveConfigV2": yaml.safe_dump(initial)}}
    api.create_namespaced_custom_object("ray.io", "v1", "sentinel-prod", "rayservices", body)
    cluster = config.load(None, env={}).clusters["training"]
    ad = adapters.connect(cluster, env=sandbox.env)
    target = serve.RayServiceSpec(ad.kube, namespace="sentinel-prod", name="sentinel-service", serve_url="")
    app = ports.ServeApp("recommender", "sentinel.ml.serve:app", {"registry": "s3://b/models", "version": "v7"})
    assert target.deployed_args("recommender") is None
    target.deploy(app)
    obj = api.get_namespaced_custom_object("ray.io", "v1", "sentinel-prod", "rayservices", "sentinel-service")
    apps = {a["name"]: a for a in yaml.safe_load(obj["spec"]["serveConfigV2"])["applications"]}
    assert apps["recommender"]["args"] == {"registry": "s3://b/models", "version": "v7"}
    assert "other" in apps  # the other applications are kept
    assert obj["metadata"]["generation"] >= 2
    assert target.wait_running(app, timeout=1) != "RUNNING"  # KubeRay has not reported it yet
    api.patch_namespaced_custom_object_status(
        "ray.io", "v1", "sentinel-prod", "rayservices", "sentinel-service",
        {"status": {"serviceStatus": "Running",
                    "activeServiceStatus": {"applicationStatuses": {"recommender": {"status": "RUNNING"}}}}})
    assert target.wait_running(app, timeout=5) == "RUNNING"

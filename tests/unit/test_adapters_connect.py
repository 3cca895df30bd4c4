"""``adapters.connect``: one place wires the real adapters from a cluster's config and an env mapping."""

from __future__ import annotations

from pathlib import Path

from sentinel.config import Cluster
from sentinel.ops.adapters import connect, eks, kube, ray

CLUSTER = Cluster.model_validate(
    {
        "region": "eu-west-1",
        "eks_cluster": "training-eks",
        "nodegroups": {"managed-ng-1": {"awake": {"min": 2, "desired": 2, "max": 4}}},
        "ray": {"dashboard": "http://ray-head:8265"},
    }
)


def kubeconfig(tmp_path: Path) -> Path:
    path = tmp_path / "kubeconfig"
    path.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: s\n"
        "clusters: [{name: s, cluster: {server: 'http://127.0.0.1:7443'}}]\n"
        "contexts: [{name: s, context: {cluster: s, user: u}}]\n"
        "users: [{name: u, user: {token: t}}]\n"
    )
    return path


def test_connect_takes_every_endpoint_from_config_and_env(tmp_path: Path) -> None:
    env = {
        "AWS_ENDPOINT_URL": "http://127.0.0.1:5999",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "KUBECONFIG": str(kubeconfig(tmp_path)),
    }
    adapters = connect(CLUSTER, env=env)
    assert isinstance(adapters.nodegroups, eks.EksNodeGroups)
    assert adapters.nodegroups.eks_cluster == "training-eks"
    assert adapters.nodegroups.client.meta.endpoint_url == "http://127.0.0.1:5999"
    assert adapters.nodegroups.client.meta.region_name == "eu-west-1"
    assert isinstance(adapters.kube, kube.KubeApi)
    assert adapters.kube.client.configuration.host == "http://127.0.0.1:7443"
    assert isinstance(adapters.ray, ray.RayJobsApi)
    assert adapters.ray.dashboard == "http://ray-head:8265"


def test_env_can_point_ray_elsewhere_and_nothing_is_contacted(tmp_path: Path) -> None:
    env = {"KUBECONFIG": str(kubeconfig(tmp_path)), "SENTINEL_RAY_DASHBOARD": "http://127.0.0.1:9"}
    adapters = connect(CLUSTER, env=env)  # port 9 is closed: a lazy client does not notice yet
    assert isinstance(adapters.ray, ray.RayJobsApi)
    assert adapters.ray.dashboard == "http://127.0.0.1:9"

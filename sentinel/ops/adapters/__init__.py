"""Adapters behind the ports of :mod:`sentinel.ops.ports`, wired in one place: :func:`connect`.

Only this package imports boto3, botocore, kubernetes and ray.job_submission.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sentinel.config import Cluster, MLSettings
from sentinel.ops import ports


@dataclass(frozen=True)
class Adapters:
    nodegroups: ports.NodeGroups
    kube: ports.Kube
    ray: ports.RayJobs
    serving: ports.Serving | None = None
    registry: ports.ModelRegistry | None = None


def connect(
    cluster: Cluster,
    *,
    env: Mapping[str, str],
    kubeconfig: str | None = None,
    aws_endpoint: str | None = None,
    ml: MLSettings | None = None,
) -> Adapters:
    """Real adapters for one configured cluster.

    ``env`` is where endpoints and credentials come from (``os.environ`` in production, ``Sandbox.env`` in
    tests): ``AWS_ENDPOINT_URL``, ``AWS_*`` credentials, ``KUBECONFIG``. Ray's dashboard address comes from the
    cluster config; ``SENTINEL_RAY_DASHBOARD`` in ``env`` overrides it. Nothing is contacted yet except what the
    SDKs do on construction (the Kubernetes client reads its kubeconfig; Ray connects lazily).
    ``SENTINEL_RAY_SERVE`` overrides where ``/recommend`` answers. Deploys go to the cluster's RayService when
    ``ray.rayservice`` is set, else to Serve's REST API on the dashboard.
    """
    from sentinel.ops.adapters import eks, kube, ray, registry, serve

    dashboard = env.get("SENTINEL_RAY_DASHBOARD") or cluster.ray.dashboard
    serve_url = env.get("SENTINEL_RAY_SERVE") or cluster.ray.serve
    kube_api = kube.KubeApi(kube.api_client(kubeconfig, env=env))
    serving: ports.Serving
    if cluster.ray.rayservice:
        serving = serve.RayServiceSpec(kube_api, namespace=cluster.ray.namespace, name=cluster.ray.rayservice,
                                       serve_url=serve_url)
    else:
        serving = serve.ServeRest(dashboard, serve_url=serve_url)
    return Adapters(
        nodegroups=eks.EksNodeGroups(
            cluster.eks_cluster, eks.client(cluster.region, endpoint_url=aws_endpoint, env=env)
        ),
        kube=kube_api,
        ray=ray.RayJobsApi(dashboard),
        serving=serving,
        registry=registry.Registry(ml.storage, env=env, region=cluster.region) if ml else None,
    )

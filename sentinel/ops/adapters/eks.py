"""EKS managed node groups through boto3 (:class:`~sentinel.ops.ports.NodeGroups`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import boto3
import botocore.config
import botocore.exceptions

from sentinel.ops import ports
from sentinel.ops.adapters import errors

DEFAULT_MAX_ATTEMPTS = 6


def client(
    region: str,
    *,
    endpoint_url: str | None = None,
    env: Mapping[str, str] | None = None,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    connect_timeout: float = 5.0,
    read_timeout: float = 30.0,
) -> Any:
    """A boto3 ``eks`` client with adaptive retries (``max_attempts`` counts the first attempt too).

    ``env`` (e.g. the sandbox's) may carry ``AWS_ENDPOINT_URL[_EKS]`` and static credentials; without them
    boto3's own chain applies (``AWS_ENDPOINT_URL`` from the process environment, IRSA, instance profile).
    """
    env = env or {}
    endpoint_url = endpoint_url or env.get("AWS_ENDPOINT_URL_EKS") or env.get("AWS_ENDPOINT_URL") or None
    session = boto3.session.Session(
        aws_access_key_id=env.get("AWS_ACCESS_KEY_ID"),
        aws_secret_access_key=env.get("AWS_SECRET_ACCESS_KEY"),
        aws_session_token=env.get("AWS_SESSION_TOKEN"),
        region_name=region,
    )
    config = botocore.config.Config(
        retries={"mode": "adaptive", "total_max_attempts": max_attempts},  # attempts, the first included
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
    )
    return session.client("eks", region_name=region, endpoint_url=endpoint_url, config=config)


class EksNodeGroups:
    """The managed node groups of one EKS cluster."""

    def __init__(self, eks_cluster: str, eks_client: Any) -> None:
        self.eks_cluster = eks_cluster
        self.client = eks_client

    def describe(self, nodegroup: str) -> ports.NodeGroupState:
        what = f"describe node group {self.eks_cluster}/{nodegroup}"
        try:
            ng = self.client.describe_nodegroup(clusterName=self.eks_cluster, nodegroupName=nodegroup)["nodegroup"]
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as e:
            raise errors.aws(e, what=what) from e
        sc = ng.get("scalingConfig") or {}
        return ports.NodeGroupState(
            name=ng.get("nodegroupName", nodegroup),
            min=int(sc.get("minSize", 0)),
            desired=int(sc.get("desiredSize", 0)),
            max=int(sc.get("maxSize", 0)),
            status=str(ng.get("status", "UNKNOWN")),
        )

    def scale(self, nodegroup: str, *, min: int, desired: int, max: int, token: str) -> bool:
        ports.check_sizes(f"{self.eks_cluster}/{nodegroup}", min=min, desired=desired, max=max)
        current = self.describe(nodegroup)
        if current.sizes == (min, desired, max):
            return False
        what = f"scale node group {self.eks_cluster}/{nodegroup} to {min}/{desired}/{max}"
        try:
            self.client.update_nodegroup_config(
                clusterName=self.eks_cluster,
                nodegroupName=nodegroup,
                scalingConfig={"minSize": min, "maxSize": max, "desiredSize": desired},
                clientRequestToken=token,
            )
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as e:
            raise errors.aws(e, what=what) from e
        return True

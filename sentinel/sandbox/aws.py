"""moto in server mode, seeded from the config: S3 buckets, SQS queues with bucket notifications, EKS node groups.

Everything is created and read through boto3 over HTTP — the same way Sentinel reaches it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

import boto3
import botocore.config
import botocore.exceptions
from moto.moto_server.threaded_moto_server import ThreadedMotoServer
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import make_server

from sentinel.config import Cluster, Config
from sentinel.sandbox.aws_gateway import NodegroupGateway, OnScaled, Sizes

log = logging.getLogger("sentinel.sandbox.aws")
ACCOUNT = "123456789012"
CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
SUBNETS = ["subnet-0a1b2c3d4e5f00001", "subnet-0a1b2c3d4e5f00002"]
ROLE = f"arn:aws:iam::{ACCOUNT}:role/sentinel-sandbox"


class _QuietHandler(MotoRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """No access log line per request (moto's handler prints one to stderr)."""


class _Server(ThreadedMotoServer):
    """moto's threaded server with our gateway in front of its WSGI app."""

    def __init__(self, wrap: Callable[[Any], Any]) -> None:
        super().__init__(ip_address="127.0.0.1", port=0, verbose=False)
        self._wrap = wrap

    def _server_entry(self) -> None:
        app = self._wrap(DomainDispatcherApplication(create_backend_app))
        self._server = make_server(self._ip_address, self._port, app, True, request_handler=_QuietHandler)
        self._server_ready_event.set()
        self._server.serve_forever()


def _moto_sizes(region: str, cluster: str, nodegroup: str) -> Sizes | None:
    """The node group's current scalingConfig, read from moto's store in this process."""
    try:
        from moto.eks.models import eks_backends

        ng = eks_backends[ACCOUNT][region].clusters[cluster].nodegroups[nodegroup]
        return {k: int(v) for k, v in ng.scaling_config.items()}
    except (KeyError, AttributeError):
        return None


class Cloud:
    def __init__(self, cfg: Config, *, on_scaled: OnScaled) -> None:
        self.cfg = cfg
        self._server = _Server(lambda app: NodegroupGateway(app, lookup=_moto_sizes, on_scaled=on_scaled))
        self.endpoint = ""
        self._clients: dict[tuple[str, str], Any] = {}

    def start(self) -> None:
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.endpoint = f"http://{host}:{port}"

    def stop(self) -> None:
        if self.endpoint:  # idempotent, and safe before start()
            self._server.stop()
            self.endpoint = ""

    def client(self, service: str, region: str) -> Any:
        key = (service, region)
        if key not in self._clients:
            self._clients[key] = boto3.session.Session().client(
                service,
                region_name=region,
                endpoint_url=self.endpoint,
                **CREDENTIALS,
                config=botocore.config.Config(
                    retries={"max_attempts": 2, "mode": "standard"}, connect_timeout=5, read_timeout=10
                ),
            )
        return self._clients[key]

    # ---- seeding -----------------------------------------------------------------------------------------------

    def seed(self) -> None:
        """Create what is missing and put everything back to the configured state (idempotent, used by reset)."""
        for cluster in self.cfg.clusters.values():
            self._seed_eks(cluster)
        self._seed_triggers()

    def _seed_eks(self, c: Cluster) -> None:
        eks = self.client("eks", c.region)
        if c.eks_cluster not in eks.list_clusters()["clusters"]:
            eks.create_cluster(
                name=c.eks_cluster, roleArn=ROLE, version="1.32", resourcesVpcConfig={"subnetIds": SUBNETS}
            )
        existing = set(eks.list_nodegroups(clusterName=c.eks_cluster)["nodegroups"])
        for name, ng in c.nodegroups.items():
            awake = {"minSize": ng.awake.min, "maxSize": ng.awake.max, "desiredSize": ng.awake.desired}
            if name not in existing:
                eks.create_nodegroup(
                    clusterName=c.eks_cluster,
                    nodegroupName=name,
                    scalingConfig=awake,
                    subnets=SUBNETS,
                    nodeRole=ROLE,
                    instanceTypes=[ng.instance_type],
                    capacityType="SPOT" if ng.spot else "ON_DEMAND",
                    labels={"eks.amazonaws.com/nodegroup": name},
                )
            elif self.sizes(c, name) != awake:
                eks.update_nodegroup_config(clusterName=c.eks_cluster, nodegroupName=name, scalingConfig=awake)

    def _seed_triggers(self) -> None:
        by_bucket: dict[str, list[dict[str, Any]]] = {}
        for t in self.cfg.triggers:
            region = self.cfg.clusters[t.cluster].region
            arn = self._ensure_queue(t.queue, region)
            rules = [{"Name": n, "Value": v} for n, v in (("prefix", t.prefix), ("suffix", t.suffix)) if v]
            qc: dict[str, Any] = {"Id": t.name, "QueueArn": arn, "Events": ["s3:ObjectCreated:*"]}
            if rules:
                qc["Filter"] = {"Key": {"FilterRules": rules}}
            by_bucket.setdefault(t.bucket, []).append(qc)
            self._ensure_bucket(t.bucket, region)
        for bucket, queues in by_bucket.items():
            region = self._bucket_region(bucket)
            self.client("s3", region).put_bucket_notification_configuration(
                Bucket=bucket, NotificationConfiguration={"QueueConfigurations": queues}
            )
        for t in self.cfg.triggers:  # drop the s3:TestEvent the notification setup sends, and any leftovers
            self._empty_queue(t.queue, self.cfg.clusters[t.cluster].region)

    def _bucket_region(self, bucket: str) -> str:
        t = next(t for t in self.cfg.triggers if t.bucket == bucket)
        return self.cfg.clusters[t.cluster].region

    def _ensure_bucket(self, bucket: str, region: str) -> None:
        s3 = self.client("s3", region)
        try:
            s3.head_bucket(Bucket=bucket)
        except botocore.exceptions.ClientError:
            kwargs: dict[str, Any] = {}
            if region != "us-east-1":
                kwargs["CreateBucketConfiguration"] = {"LocationConstraint": region}
            s3.create_bucket(Bucket=bucket, **kwargs)
            return
        paginator = s3.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=bucket):
            keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
            if keys:
                s3.delete_objects(Bucket=bucket, Delete={"Objects": keys, "Quiet": True})

    def _ensure_queue(self, queue: str, region: str) -> str:
        sqs = self.client("sqs", region)
        url = sqs.create_queue(QueueName=queue)["QueueUrl"]  # idempotent for the same attributes
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        policy = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "s3.amazonaws.com"},
                    "Action": "sqs:SendMessage",
                    "Resource": arn,
                }
            ],
        }
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(policy)})
        return str(arn)

    def _empty_queue(self, queue: str, region: str) -> None:
        sqs = self.client("sqs", region)
        url = sqs.get_queue_url(QueueName=queue)["QueueUrl"]
        try:
            sqs.purge_queue(QueueUrl=url)
        except botocore.exceptions.ClientError as e:  # PurgeQueueInProgress: once a minute, as on AWS
            if "PurgeQueueInProgress" not in str(e):
                raise
            sqs.delete_queue(QueueUrl=url)
            self._ensure_queue(queue, region)

    # ---- node groups -------------------------------------------------------------------------------------------

    def sizes(self, c: Cluster, nodegroup: str) -> Sizes | None:
        try:
            ng = self.client("eks", c.region).describe_nodegroup(clusterName=c.eks_cluster, nodegroupName=nodegroup)
        except botocore.exceptions.ClientError:
            return None
        return {k: int(v) for k, v in ng["nodegroup"]["scalingConfig"].items()}

    def set_desired(self, c: Cluster, nodegroup: str, desired: int) -> None:
        self.client("eks", c.region).update_nodegroup_config(
            clusterName=c.eks_cluster, nodegroupName=nodegroup, scalingConfig={"desiredSize": desired}
        )

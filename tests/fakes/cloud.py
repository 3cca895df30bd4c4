"""One fake cluster, wired like :func:`sentinel.ops.adapters.connect` wires the real one.

    cloud = FakeCloud.awake(cluster_cfg)   # node groups at their awake sizes, nodes Ready, system pods up
    playbook(cloud.adapters, ...)
    assert cloud.nodegroups.updates == [("managed-ng-1", 0, 0, 4), ...]
"""

from __future__ import annotations

from dataclasses import dataclass

from sentinel.config import Cluster
from sentinel.ops.adapters import Adapters
from tests.fakes.kube import FakeKube
from tests.fakes.nodegroups import FakeNodeGroups
from tests.fakes.rayjobs import FakeRayJobs


@dataclass
class FakeCloud:
    nodegroups: FakeNodeGroups
    kube: FakeKube
    ray: FakeRayJobs

    @classmethod
    def awake(cls, cluster: Cluster, *, boot_ticks: int = 2, drain_ticks: int = 1) -> FakeCloud:
        ngs = FakeNodeGroups()
        for name, ng in cluster.nodegroups.items():
            ngs.add(name, min=ng.awake.min, desired=ng.awake.desired, max=ng.awake.max)
        kube = FakeKube(nodegroups=ngs, boot_ticks=boot_ticks, drain_ticks=drain_ticks)
        for ref in cluster.system_deployments:
            kube.add_deployment(ref, cluster.default_replicas(ref))
        if cluster.ray.raycluster:
            kube.put_custom_object(
                "RayCluster", cluster.ray.namespace, cluster.ray.raycluster, {"spec": {"workerGroupSpecs": []}}
            )
        if cluster.ray.rayservice:
            kube.put_custom_object("RayService", cluster.ray.namespace, cluster.ray.rayservice, {"spec": {}})
        kube.boot()
        return cls(nodegroups=ngs, kube=kube, ray=FakeRayJobs())

    @property
    def adapters(self) -> Adapters:
        return Adapters(nodegroups=self.nodegroups, kube=self.kube, ray=self.ray)

    def tick(self, n: int = 1) -> None:
        self.kube.tick(n)

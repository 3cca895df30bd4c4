"""The local stand-in for AWS + EKS + Kubernetes: moto over HTTP, a Kubernetes API emulator, simulated controllers.

Sentinel reaches it with unchanged boto3 and ``kubernetes`` clients through the endpoints in :attr:`Sandbox.env`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from sentinel.config import Config
from sentinel.sandbox import kinds, kubeconfig, seed
from sentinel.sandbox.api import Emulator
from sentinel.sandbox.aws import ACCOUNT, CREDENTIALS, Cloud
from sentinel.sandbox.clock import ClusterClock
from sentinel.sandbox.history import History, HistoryEntry
from sentinel.sandbox.httpserver import ThreadedServer
from sentinel.sandbox.simulation import Simulation
from sentinel.sandbox.store import Change, Store

T = TypeVar("T")
_CLEAR_ORDER = (
    kinds.POD,
    kinds.RAYJOB,
    kinds.RAYSERVICE,
    kinds.RAYCLUSTER,
    kinds.DEPLOYMENT,
    kinds.NODE,
    kinds.NAMESPACE,
)


class Sandbox:
    def __init__(
        self,
        cfg: Config,
        *,
        workdir: Path,
        time_scale: float = 1.0,
        boot_delay: float = 90.0,
        drain_delay: float = 30.0,
        autoscaler_scan: float = 10.0,
        cluster: str | None = None,
        tick: float = 0.05,
    ) -> None:
        if not cfg.clusters:
            raise ValueError("the config names no cluster to emulate")
        self.cfg = cfg
        self.cluster_name = cluster or next(iter(cfg.clusters))
        self.cluster = cfg.cluster(self.cluster_name)
        self.workdir = Path(workdir)
        self.kubeconfig = self.workdir / "kubeconfig"
        self.env_file = self.workdir / "env"
        self.clock = ClusterClock(time_scale)
        self.store = Store()
        self._history = History()
        self.cloud = Cloud(cfg, on_scaled=self._on_scaled)
        self.emulator = Emulator(self.store)
        self._http: ThreadedServer | None = None
        self.simulation = Simulation(
            self.store,
            self._history,
            self.cluster,
            clock=self.clock,
            read_sizes=lambda ng: self.cloud.sizes(self.cluster, ng),
            set_desired=lambda ng, n: self.cloud.set_desired(self.cluster, ng, n),
            boot_delay=boot_delay,
            drain_delay=drain_delay,
            autoscaler_scan=autoscaler_scan,
            tick=tick,
        )
        self.store.add_listener(self._observe)
        self._started = False

    # ---- the public surface ------------------------------------------------------------------------------------

    @property
    def aws_endpoint(self) -> str:
        return self.cloud.endpoint

    @property
    def kube_url(self) -> str:
        if self._http is None:
            raise RuntimeError("the sandbox is not started")
        return self._http.url

    @property
    def env(self) -> dict[str, str]:
        """Everything a subprocess needs to reach the sandbox (merge it over ``os.environ``)."""
        return {
            "AWS_ENDPOINT_URL": self.aws_endpoint,
            "AWS_ACCESS_KEY_ID": CREDENTIALS["aws_access_key_id"],
            "AWS_SECRET_ACCESS_KEY": CREDENTIALS["aws_secret_access_key"],
            "AWS_DEFAULT_REGION": self.cluster.region,
            "AWS_REGION": self.cluster.region,
            "AWS_EC2_METADATA_DISABLED": "true",
            "KUBECONFIG": str(self.kubeconfig.resolve()),
            "NO_PROXY": "127.0.0.1,localhost",
            "no_proxy": "127.0.0.1,localhost",
        }

    @property
    def history(self) -> list[HistoryEntry]:
        return self._history.entries()

    def events(self, kind: str) -> list[HistoryEntry]:
        return self._history.entries(kind)

    def start(self) -> Sandbox:
        if self._started:
            return self
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.cloud.start()
        try:
            self.cloud.seed()
            self._http = ThreadedServer(self.emulator.app, name="sandbox-kube-api")
            self.emulator.server_address = f"{self._http.host}:{self._http.port}"
            self._http.start()
            arn = f"arn:aws:eks:{self.cluster.region}:{ACCOUNT}:cluster/{self.cluster.eks_cluster}"
            kubeconfig.write(self.kubeconfig, kubeconfig.render(self.kube_url, name=arn))
            kubeconfig.write(self.env_file, kubeconfig.env_lines(self.env))
            self.simulation.reseed(self._seed_objects)
            self.simulation.start()
        except BaseException:
            self.stop()
            raise
        self._started = True
        return self

    def stop(self) -> None:
        self.simulation.stop()
        if self._http is not None:
            self._http.stop()
        self.cloud.stop()
        self._started = False

    def reset(self) -> None:
        """Back to the seeded state: AWS as configured, node groups awake with Ready nodes, pods Running; no history."""
        if not self._started:
            raise RuntimeError("the sandbox is not started")

        def again() -> None:
            for kind in _CLEAR_ORDER:
                self.store.clear([kind])
            self.cloud.seed()
            self._seed_objects()

        self.simulation.reseed(again)

    def wait_until(
        self, predicate: Callable[[], T], timeout: float = 10.0, *, interval: float = 0.02, message: str = ""
    ) -> T:
        """Poll ``predicate`` until it returns something truthy (and return it), or raise ``TimeoutError``."""
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if time.monotonic() > deadline:
                raise TimeoutError(message or f"condition not met within {timeout}s")
            time.sleep(interval)

    def cluster_seconds(self, seconds: float) -> float:
        """Real seconds that ``seconds`` of cluster time take at this time scale."""
        return self.clock.real(seconds)

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # ---- internals ---------------------------------------------------------------------------------------------

    def _seed_objects(self) -> None:
        for kind, obj in seed.objects(self.cluster):
            self.store.create(kind, obj, internal=True)

    def _on_scaled(self, eks_cluster: str, nodegroup: str, old: dict[str, int], new: dict[str, int]) -> None:
        if old != new:
            self._history.record("nodegroup.scaled", nodegroup, old=old, new=new, cluster=eks_cluster)
        if eks_cluster == self.cluster.eks_cluster:
            self.simulation.desired_changed(nodegroup, new)

    def _observe(self, change: Change) -> None:
        meta = change.new["metadata"]
        if change.kind is kinds.DEPLOYMENT:
            ref = f"{meta['namespace']}/{meta['name']}"
            old, new = change.old or {}, change.new if change.type != "DELETED" else {}
            before, after = (old.get("spec") or {}).get("replicas"), (new.get("spec") or {}).get("replicas")
            if change.type == "MODIFIED" and before != after:
                self._history.record("deployment.scaled", ref, old=before, new=after)
            ready_before = (old.get("status") or {}).get("readyReplicas", 0) if old else None
            ready_after = (new.get("status") or {}).get("readyReplicas", 0) if new else None
            if change.type == "MODIFIED" and ready_before != ready_after:
                self._history.record("deployment.ready", ref, old=ready_before, new=ready_after)
        elif change.kind.group == "ray.io":
            name = f"{change.kind.plural}/{meta.get('namespace')}/{meta['name']}"
            if change.type == "ADDED":
                self._history.record("object.created", name, new=meta.get("generation"))
            elif change.type == "DELETED":
                self._history.record("object.deleted", name, old=meta.get("generation"))
            elif (change.old or {}).get("metadata", {}).get("generation") != meta.get("generation"):
                self._history.record(
                    "object.updated",
                    name,
                    old=change.old["metadata"].get("generation") if change.old else None,
                    new=meta.get("generation"),
                )

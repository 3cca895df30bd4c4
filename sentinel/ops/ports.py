"""The ports the playbooks act through: small Protocols and the frozen values they return.

Adapters in :mod:`sentinel.ops.adapters` implement these against boto3, the Kubernetes client and Ray's Jobs
API; ``tests/fakes`` implements them in memory. Both raise only :class:`~sentinel.errors.TransientError` and
:class:`~sentinel.errors.PermanentError`; one contract suite per port keeps them in step.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from sentinel.errors import PermanentError

PENDING, RUNNING, STOPPED, SUCCEEDED, FAILED = "PENDING", "RUNNING", "STOPPED", "SUCCEEDED", "FAILED"
ACTIVE_JOB_STATUSES = frozenset({PENDING, RUNNING})
"""A Ray job in one of these blocks the sleep playbook."""
NODEGROUP_LABEL = "eks.amazonaws.com/nodegroup"
"""The label EKS puts on every node of a managed node group."""


@dataclass(frozen=True)
class NodeGroupState:
    """A managed node group's scaling config and EKS status (``ACTIVE``, ``UPDATING``, …)."""

    name: str
    min: int
    desired: int
    max: int
    status: str

    @property
    def sizes(self) -> tuple[int, int, int]:
        return (self.min, self.desired, self.max)


@dataclass(frozen=True)
class DeploymentState:
    ref: str
    """``namespace/name``."""
    replicas: int
    """Wanted (``spec.replicas`` of the scale subresource)."""
    ready: int
    """``status.readyReplicas``."""


@dataclass(frozen=True)
class NodeInfo:
    name: str
    nodegroup: str | None
    ready: bool


@dataclass(frozen=True)
class RayJob:
    job_id: str | None
    """Ray's driver job id; ``None`` until the driver starts."""
    submission_id: str | None
    status: str
    entrypoint: str
    metadata: dict[str, str] = field(default_factory=dict)

    @property
    def active(self) -> bool:
        return self.status in ACTIVE_JOB_STATUSES

    @property
    def blocks_sleep(self) -> bool:
        """A submitted job that is PENDING or RUNNING. Ray also lists every connected driver (a notebook,
        ``serve start``, a test's ``ray.init()``); those have no submission id — sessions, not work to wait for."""
        return self.active and self.submission_id is not None


def check_sizes(nodegroup: str, *, min: int, desired: int, max: int) -> None:
    """The rules EKS enforces on ``scalingConfig``: minSize ≥ 0, maxSize ≥ 1, min ≤ desired ≤ max."""
    problems = []
    if min < 0:
        problems.append(f"min ({min}) is negative")
    if max < 1:
        problems.append(f"max ({max}) is below 1")
    if min > desired:
        problems.append(f"min ({min}) is above desired ({desired})")
    if desired > max:
        problems.append(f"desired ({desired}) is above max ({max})")
    if problems:
        raise PermanentError(f"node group {nodegroup}: invalid sizes: {'; '.join(problems)}")


def split_ref(ref: str) -> tuple[str, str]:
    """``"kube-system/coredns"`` → ``("kube-system", "coredns")``; anything else is a PermanentError."""
    namespace, sep, name = ref.partition("/")
    if not sep or not namespace or not name or "/" in name:
        raise PermanentError(f"{ref!r} is not namespace/name")
    return namespace, name


class NodeGroups(Protocol):
    """EKS managed node groups of one cluster."""

    def describe(self, nodegroup: str) -> NodeGroupState: ...

    def scale(self, nodegroup: str, *, min: int, desired: int, max: int, token: str) -> bool:
        """Set the scaling config; ``False`` (and no API call) when it already has these sizes.

        ``token`` is the idempotency token (``clientRequestToken``): a retried task passes the same one.
        """
        ...


class Kube(Protocol):
    """The Kubernetes API of one cluster."""

    def deployment(self, ref: str) -> DeploymentState: ...

    def scale_deployment(self, ref: str, replicas: int) -> None: ...

    def nodes(self, nodegroup: str | None = None) -> list[NodeInfo]: ...

    def wait_nodes(self, nodegroup: str, *, ready: int, timeout: float) -> bool:
        """``True`` once at least ``ready`` nodes of the group are Ready; ``False`` after ``timeout`` seconds."""
        ...

    def wait_no_nodes(self, nodegroups: Sequence[str], *, timeout: float) -> bool:
        """``True`` once no node (Ready or not) of these groups is left."""
        ...

    def wait_deployment_ready(self, ref: str, replicas: int, *, timeout: float) -> bool:
        """``True`` once ``ready >= replicas`` (for 0: once no replica is ready)."""
        ...

    def custom_object(self, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        """A KubeRay object (``RayCluster``, ``RayService``, ``RayJob``); ``None`` when it does not exist."""
        ...

    def patch_custom_object(self, kind: str, namespace: str, name: str, patch: dict[str, Any]) -> dict[str, Any]:
        """JSON merge patch; a missing object is a PermanentError. Returns the patched object."""
        ...

    def list_custom_objects(self, kind: str, namespace: str) -> list[dict[str, Any]]:
        """Every object of a KubeRay kind in the namespace, by name (e.g. RayJobs when the dashboard is away)."""
        ...


class RayJobs(Protocol):
    """Ray's Jobs API on one cluster's dashboard."""

    def list_jobs(self) -> list[RayJob]: ...

    def running(self) -> list[RayJob]:
        """Submitted jobs (with a submission id) that are PENDING or RUNNING; interactive drivers do not count."""
        ...

    def submit(
        self,
        entrypoint: str,
        *,
        submission_id: str,
        runtime_env: dict[str, Any] | None = None,
        metadata: dict[str, str] | None = None,
    ) -> str:
        """Submit once: a ``submission_id`` that already exists returns that id and submits nothing."""
        ...

    def status(self, submission_id: str) -> str: ...

    def logs(self, submission_id: str) -> str: ...

    def stop(self, submission_id: str) -> bool:
        """``True`` if the job was running and is asked to stop."""
        ...


@dataclass(frozen=True)
class ServeApp:
    """One Ray Serve application, as a Serve config (REST API / ``serveConfigV2``) lists it."""

    name: str
    import_path: str
    args: dict[str, Any]
    route_prefix: str = "/"

    def config(self) -> dict[str, Any]:
        return {"name": self.name, "route_prefix": self.route_prefix, "import_path": self.import_path,
                "args": dict(self.args)}


class Serving(Protocol):
    """Where the model is served: Serve's REST API on a Ray head, or a KubeRay RayService."""

    def deployed_args(self, app: str) -> dict[str, Any] | None: ...

    def deploy(self, app: ServeApp) -> None: ...

    def wait_running(self, app: ServeApp, *, timeout: float) -> str:
        """``"RUNNING"`` once the app serves these args; otherwise the last status seen."""
        ...

    def smoke(self, body: dict[str, Any], *, expect_version: str, timeout: float) -> str:
        """``""`` when ``POST /recommend`` answers 200 with ``expect_version``; else what went wrong."""
        ...


class ModelRegistry(Protocol):
    """The model versions ``sentinel.ml`` registers, and the ``current`` pointer."""

    def card(self, version: str) -> dict[str, Any] | None: ...

    def current(self) -> str | None: ...

    def previous(self) -> str | None: ...

    def set_current(self, version: str) -> None: ...

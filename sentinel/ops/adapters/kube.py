"""The Kubernetes API through the official client (:class:`~sentinel.ops.ports.Kube`).

The ``wait_*`` methods list once, then *watch* from the list's resourceVersion in chunks of
``timeout_seconds`` (resuming from the last resourceVersion seen, re-listing on ``410 Gone``) until the
condition holds or the deadline passes — no tight polling.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import kubernetes.client
import kubernetes.config
import kubernetes.watch
import urllib3.exceptions
from kubernetes.client.exceptions import ApiException

from sentinel.errors import PermanentError, TransientError
from sentinel.ops import ports
from sentinel.ops.adapters import errors

KUBERAY_GROUP, KUBERAY_VERSION = "ray.io", "v1"
CUSTOM_KINDS: dict[str, tuple[str, str, str]] = {
    "raycluster": (KUBERAY_GROUP, KUBERAY_VERSION, "rayclusters"),
    "rayservice": (KUBERAY_GROUP, KUBERAY_VERSION, "rayservices"),
    "rayjob": (KUBERAY_GROUP, KUBERAY_VERSION, "rayjobs"),
}
WATCH_CHUNK = 30.0
"""Longest single watch request (``timeout_seconds``); the loop resumes from the last resourceVersion."""

Objects = dict[str, dict[str, Any]]


def api_client(
    kubeconfig: str | None = None, *, env: Mapping[str, str] | None = None, context: str | None = None
) -> kubernetes.client.ApiClient:
    """An ``ApiClient`` from ``kubeconfig`` (else ``KUBECONFIG`` in ``env``), in-cluster config inside a pod,
    else ``~/.kube/config``. Never touches the client's global default configuration."""
    env = env or {}
    path = kubeconfig or env.get("KUBECONFIG")
    try:
        if not path and env.get("KUBERNETES_SERVICE_HOST"):
            configuration = kubernetes.client.Configuration()
            kubernetes.config.load_incluster_config(client_configuration=configuration)
            return kubernetes.client.ApiClient(configuration)
        return kubernetes.config.new_client_from_config(config_file=path, context=context, persist_config=False)
    except kubernetes.config.ConfigException as e:
        raise PermanentError(f"kubernetes config ({path or 'default'}): {e}") from e


def _ready(node: Mapping[str, Any]) -> bool:
    for cond in (node.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Ready":
            return cond.get("status") == "True"
    return False


def _nodegroup(node: Mapping[str, Any]) -> str | None:
    return ((node.get("metadata") or {}).get("labels") or {}).get(ports.NODEGROUP_LABEL)


def _custom_kind(kind: str) -> tuple[str, str, str]:
    try:
        return CUSTOM_KINDS[kind.lower().removesuffix("s")]
    except KeyError:
        raise PermanentError(f"unknown custom object kind {kind!r} (known: RayCluster, RayService, RayJob)") from None


class KubeApi:
    """One cluster's Kubernetes API."""

    def __init__(
        self,
        client: kubernetes.client.ApiClient,
        *,
        watch_chunk: float = WATCH_CHUNK,
        request_timeout: float = 30.0,
    ) -> None:
        self.client = client
        self.core = kubernetes.client.CoreV1Api(client)
        self.apps = kubernetes.client.AppsV1Api(client)
        self.custom = kubernetes.client.CustomObjectsApi(client)
        self.watch_chunk = watch_chunk
        self.request_timeout = request_timeout

    def _call(self, what: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, _request_timeout=self.request_timeout, **kwargs)
        except (ApiException, urllib3.exceptions.HTTPError, OSError) as e:
            raise errors.kube(e, what=what) from e

    def _dict(self, obj: Any) -> dict[str, Any]:
        return obj if isinstance(obj, dict) else self.client.sanitize_for_serialization(obj)

    # deployments --------------------------------------------------------------------------------------------
    def deployment(self, ref: str) -> ports.DeploymentState:
        ns, name = ports.split_ref(ref)
        scale = self._call(f"read scale of {ref}", self.apps.read_namespaced_deployment_scale, name, ns)
        status = self._call(f"read status of {ref}", self.apps.read_namespaced_deployment_status, name, ns)
        return ports.DeploymentState(
            ref=ref,
            replicas=int((scale.spec and scale.spec.replicas) or 0),
            ready=int((status.status and status.status.ready_replicas) or 0),
        )

    def scale_deployment(self, ref: str, replicas: int) -> None:
        if replicas < 0:
            raise PermanentError(f"scale {ref}: replicas ({replicas}) is negative")
        ns, name = ports.split_ref(ref)
        self._call(
            f"scale {ref} to {replicas}",
            self.apps.patch_namespaced_deployment_scale,
            name,
            ns,
            {"spec": {"replicas": replicas}},
        )

    def wait_deployment_ready(self, ref: str, replicas: int, *, timeout: float) -> bool:
        ns, name = ports.split_ref(ref)

        def done(objs: Objects) -> bool:
            obj = objs.get(name)
            if obj is None:
                return False
            ready = int((obj.get("status") or {}).get("readyReplicas") or 0)
            return ready >= replicas if replicas > 0 else ready == 0

        return self._wait(
            f"wait for {ref} ready {replicas}",
            self.apps.list_namespaced_deployment,
            {"namespace": ns, "field_selector": f"metadata.name={name}"},
            done,
            timeout=timeout,
            keep=lambda o: (o.get("metadata") or {}).get("name") == name,
        )

    # nodes --------------------------------------------------------------------------------------------------
    def nodes(self, nodegroup: str | None = None) -> list[ports.NodeInfo]:
        kwargs = {"label_selector": f"{ports.NODEGROUP_LABEL}={nodegroup}"} if nodegroup else {}
        listed = self._call("list nodes", self.core.list_node, **kwargs)
        out = []
        for item in listed.items:
            node = self._dict(item)
            if nodegroup and _nodegroup(node) != nodegroup:
                continue
            out.append(ports.NodeInfo(name=node["metadata"]["name"], nodegroup=_nodegroup(node), ready=_ready(node)))
        return sorted(out, key=lambda n: n.name)

    def wait_nodes(self, nodegroup: str, *, ready: int, timeout: float) -> bool:
        def done(objs: Objects) -> bool:
            return sum(1 for n in objs.values() if _ready(n)) >= ready

        return self._wait(
            f"wait for {ready} Ready nodes in {nodegroup}",
            self.core.list_node,
            {"label_selector": f"{ports.NODEGROUP_LABEL}={nodegroup}"},
            done,
            timeout=timeout,
            keep=lambda n: _nodegroup(n) == nodegroup,
        )

    def wait_no_nodes(self, nodegroups: Sequence[str], *, timeout: float) -> bool:
        groups = set(nodegroups)
        if not groups:
            return True
        return self._wait(
            f"wait for no nodes in {', '.join(sorted(groups))}",
            self.core.list_node,
            {"label_selector": f"{ports.NODEGROUP_LABEL} in ({','.join(sorted(groups))})"},
            lambda objs: not objs,
            timeout=timeout,
            keep=lambda n: _nodegroup(n) in groups,
        )

    # custom objects -----------------------------------------------------------------------------------------
    def custom_object(self, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        group, version, plural = _custom_kind(kind)
        try:
            obj = self.custom.get_namespaced_custom_object(
                group, version, namespace, plural, name, _request_timeout=self.request_timeout
            )
        except ApiException as e:
            if e.status == 404:
                return None
            raise errors.kube(e, what=f"get {kind} {namespace}/{name}") from e
        except (urllib3.exceptions.HTTPError, OSError) as e:
            raise errors.kube(e, what=f"get {kind} {namespace}/{name}") from e
        return self._dict(obj)

    def patch_custom_object(self, kind: str, namespace: str, name: str, patch: dict[str, Any]) -> dict[str, Any]:
        group, version, plural = _custom_kind(kind)
        obj = self._call(
            f"patch {kind} {namespace}/{name}",
            self.custom.patch_namespaced_custom_object,
            group,
            version,
            namespace,
            plural,
            name,
            patch,
            _content_type="application/merge-patch+json",
        )
        return self._dict(obj)

    def list_custom_objects(self, kind: str, namespace: str) -> list[dict[str, Any]]:
        group, version, plural = _custom_kind(kind)
        listed = self._call(
            f"list {kind} in {namespace}", self.custom.list_namespaced_custom_object, group, version, namespace, plural
        )
        items = [self._dict(o) for o in (self._dict(listed).get("items") or [])]
        return sorted(items, key=lambda o: str((o.get("metadata") or {}).get("name", "")))

    # the watch loop -----------------------------------------------------------------------------------------
    def _wait(
        self,
        what: str,
        list_fn: Callable[..., Any],
        kwargs: dict[str, Any],
        done: Callable[[Objects], bool],
        *,
        timeout: float,
        keep: Callable[[dict[str, Any]], bool],
    ) -> bool:
        """List, test ``done``, then watch from the list's resourceVersion and re-test on every event."""
        deadline = time.monotonic() + max(0.0, timeout)
        while True:  # (re-)list
            listed = self._call(what, list_fn, **kwargs)
            objs: Objects = {}
            for item in listed.items:
                obj = self._dict(item)
                if keep(obj):
                    objs[obj["metadata"]["name"]] = obj
            if done(objs):
                return True
            rv = listed.metadata.resource_version if listed.metadata else None
            gone = False
            while not gone:  # watch in chunks, resuming from rv
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                chunk = max(1, math.ceil(min(remaining, self.watch_chunk)))
                started = time.monotonic()
                w = kubernetes.watch.Watch()
                try:
                    for event in w.stream(
                        list_fn,
                        resource_version=rv,
                        timeout_seconds=chunk,
                        allow_watch_bookmarks=True,
                        _request_timeout=(self.request_timeout, chunk + 5),
                        **kwargs,
                    ):
                        kind, obj = event.get("type"), event.get("raw_object") or {}
                        rv = (obj.get("metadata") or {}).get("resourceVersion") or rv
                        if kind == "ERROR":
                            if obj.get("code") == 410:
                                gone = True
                                break
                            failed = ApiException(status=obj.get("code"), reason=obj.get("message"))
                            raise errors.kube(failed, what=what)
                        if kind == "BOOKMARK":
                            continue
                        name = obj["metadata"]["name"]
                        if kind == "DELETED" or not keep(obj):
                            objs.pop(name, None)
                        else:
                            objs[name] = obj
                        if done(objs):
                            w.stop()
                            return True
                        if time.monotonic() >= deadline:
                            w.stop()
                            return False
                except ApiException as e:
                    if e.status == 410:
                        gone = True
                        continue
                    raise errors.kube(e, what=what) from e
                except (urllib3.exceptions.ReadTimeoutError, urllib3.exceptions.ProtocolError):
                    pass  # the server held the stream past our read timeout or dropped it: resume from rv
                except (urllib3.exceptions.HTTPError, OSError) as e:
                    raise TransientError(f"{what}: watch failed: {type(e).__name__}: {e}") from e
                if not gone and time.monotonic() - started < 0.5:
                    # a server that ends watches at once must not turn this into a tight loop
                    time.sleep(min(0.5, max(0.0, deadline - time.monotonic())))

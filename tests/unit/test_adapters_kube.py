"""The watch loop of the Kubernetes adapter: resume from the last resourceVersion, re-list on 410 Gone,
give up at the deadline — driven by a scripted list and watch, no server."""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import kubernetes.client
import pytest
from kubernetes.client.exceptions import ApiException

from sentinel.errors import PermanentError, TransientError
from sentinel.ops.adapters import kube

LABEL = "eks.amazonaws.com/nodegroup"


def node(name: str, *, ready: bool, rv: str, group: str = "ng") -> dict[str, Any]:
    return {
        "metadata": {"name": name, "resourceVersion": rv, "labels": {LABEL: group}},
        "status": {"conditions": [{"type": "Ready", "status": "True" if ready else "False"}]},
    }


class Script:
    """Lists and watch streams, answered in order; records what each watch asked for."""

    def __init__(self, lists: list[tuple[str, list[dict[str, Any]]]], streams: list[list[Any]]) -> None:
        self.lists, self.streams = lists, streams
        self.list_calls: list[dict[str, Any]] = []
        self.watch_calls: list[dict[str, Any]] = []

    def list_fn(self, **kwargs: Any) -> Any:
        self.list_calls.append(kwargs)
        rv, items = self.lists.pop(0)
        return SimpleNamespace(metadata=SimpleNamespace(resource_version=rv), items=items)

    def watch(self) -> Any:
        script = self

        class W:
            def stream(self, fn: Any, **kwargs: Any) -> Iterator[dict[str, Any]]:
                script.watch_calls.append(kwargs)
                for step in script.streams.pop(0) if script.streams else []:
                    if isinstance(step, Exception):
                        raise step
                    yield {"type": step[0], "raw_object": step[1]}

            def stop(self) -> None:
                pass

        return W()


@pytest.fixture
def api() -> kube.KubeApi:
    return kube.KubeApi(kubernetes.client.ApiClient(), watch_chunk=5)


def run(api: kube.KubeApi, script: Script, monkeypatch: pytest.MonkeyPatch, *, want: int, timeout: float) -> bool:
    monkeypatch.setattr(kube.kubernetes.watch, "Watch", script.watch)
    return api._wait(
        "wait",
        script.list_fn,
        {"label_selector": f"{LABEL}=ng"},
        lambda objs: sum(1 for o in objs.values() if kube._ready(o)) >= want,
        timeout=timeout,
        keep=lambda o: kube._nodegroup(o) == "ng",
    )


def test_already_true_needs_no_watch(api: kube.KubeApi, monkeypatch: pytest.MonkeyPatch) -> None:
    script = Script([("10", [node("a", ready=True, rv="9")])], [])
    assert run(api, script, monkeypatch, want=1, timeout=5) is True
    assert script.watch_calls == []


def test_watch_starts_at_the_list_and_resumes_from_the_last_event(
    api: kube.KubeApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    script = Script(
        [("10", [node("a", ready=False, rv="9")])],
        [
            [("MODIFIED", node("a", ready=True, rv="11"))],  # the server ends this stream (timeout_seconds)
            [("ADDED", node("b", ready=False, rv="12")), ("MODIFIED", node("b", ready=True, rv="13"))],
        ],
    )
    assert run(api, script, monkeypatch, want=2, timeout=30) is True
    assert [c["resource_version"] for c in script.watch_calls] == ["10", "11"]
    assert all(1 <= c["timeout_seconds"] <= 5 for c in script.watch_calls)
    assert len(script.list_calls) == 1


def test_410_gone_relists(api: kube.KubeApi, monkeypatch: pytest.MonkeyPatch) -> None:
    script = Script(
        [("10", []), ("50", [node("a", ready=True, rv="49")])],
        [[ApiException(status=410, reason="Expired: too old resource version")]],
    )
    assert run(api, script, monkeypatch, want=1, timeout=30) is True
    assert len(script.list_calls) == 2


def test_an_error_event_with_410_relists_too(api: kube.KubeApi, monkeypatch: pytest.MonkeyPatch) -> None:
    script = Script(
        [("10", []), ("50", [node("a", ready=True, rv="49")])],
        [[("ERROR", {"kind": "Status", "code": 410, "message": "too old"})]],
    )
    assert run(api, script, monkeypatch, want=1, timeout=30) is True


def test_deleted_nodes_leave_the_picture(api: kube.KubeApi, monkeypatch: pytest.MonkeyPatch) -> None:
    script = Script(
        [("10", [node("a", ready=True, rv="9"), node("b", ready=True, rv="8")])],
        [[("DELETED", node("a", ready=True, rv="11")), ("DELETED", node("b", ready=True, rv="12"))]],
    )
    monkeypatch.setattr(kube.kubernetes.watch, "Watch", script.watch)
    assert api._wait("w", script.list_fn, {}, lambda objs: not objs, timeout=10, keep=lambda o: True) is True


def test_gives_up_at_the_deadline(api: kube.KubeApi, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kube.time, "sleep", lambda s: None)
    clock = [0.0]
    monkeypatch.setattr(kube.time, "monotonic", lambda: clock[0])

    class Streams(list[list[Any]]):
        def pop(self, i: Any = -1) -> list[Any]:  # every watch chunk lasts its full timeout
            clock[0] += 5
            return []

        def __bool__(self) -> bool:
            return True

    script = Script([("10", [])], Streams())
    assert run(api, script, monkeypatch, want=1, timeout=12) is False
    assert [c["timeout_seconds"] for c in script.watch_calls] == [5, 5, 2]


def test_watch_errors_are_translated(api: kube.KubeApi, monkeypatch: pytest.MonkeyPatch) -> None:
    forbidden = Script([("10", [])], [[ApiException(status=403, reason="Forbidden")]])
    with pytest.raises(PermanentError, match="403"):
        run(api, forbidden, monkeypatch, want=1, timeout=10)
    broken = Script([("10", [])], [[ApiException(status=500, reason="boom")]])
    with pytest.raises(TransientError, match="500"):
        run(api, broken, monkeypatch, want=1, timeout=10)


def test_custom_kinds_are_known_by_kind_or_plural() -> None:
    assert kube._custom_kind("RayCluster") == ("ray.io", "v1", "rayclusters")
    assert kube._custom_kind("rayservices") == ("ray.io", "v1", "rayservices")
    with pytest.raises(PermanentError, match="Pod"):
        kube._custom_kind("Pod")


def test_kubeconfig_comes_from_the_argument_or_env(tmp_path: Any) -> None:
    cfg = tmp_path / "kubeconfig"
    cfg.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: s\n"
        "clusters: [{name: s, cluster: {server: 'http://127.0.0.1:6443'}}]\n"
        "contexts: [{name: s, context: {cluster: s, user: u}}]\n"
        "users: [{name: u, user: {token: t}}]\n"
    )
    assert kube.api_client(env={"KUBECONFIG": str(cfg)}).configuration.host == "http://127.0.0.1:6443"
    with pytest.raises(PermanentError, match="kubernetes config"):
        kube.api_client(str(tmp_path / "missing"))

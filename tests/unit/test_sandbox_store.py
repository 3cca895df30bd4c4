"""The emulator's store: resourceVersion, conflicts, generation, subresources, the bounded change log."""

from __future__ import annotations

import pytest

from sentinel.sandbox import kinds
from sentinel.sandbox.status import ApiError
from sentinel.sandbox.store import Store


def _store() -> Store:
    s = Store(log_size=8)
    s.create(kinds.NAMESPACE, {"metadata": {"name": "ns"}})
    return s


def _deploy(replicas: int = 1) -> dict:
    return {
        "metadata": {"name": "web", "labels": {"app": "web"}},
        "spec": {"replicas": replicas},
        "status": {"readyReplicas": 99},
    }


def test_create_sets_identity_and_drops_client_status() -> None:
    s = _store()
    d = s.create(kinds.DEPLOYMENT, _deploy(), namespace="ns")
    meta = d["metadata"]
    assert meta["uid"] and meta["creationTimestamp"].endswith("Z") and meta["generation"] == 1
    assert int(meta["resourceVersion"]) == s.resource_version
    assert "status" not in d and d["apiVersion"] == "apps/v1"
    with pytest.raises(ApiError) as e:
        s.create(kinds.DEPLOYMENT, _deploy(), namespace="ns")
    assert e.value.code == 409 and e.value.reason == "AlreadyExists"
    with pytest.raises(ApiError) as e:
        s.create(kinds.DEPLOYMENT, _deploy(), namespace="nope")
    assert e.value.code == 404 and 'namespaces "nope" not found' in e.value.message


def test_every_write_raises_resource_version_and_stale_writes_conflict() -> None:
    s = _store()
    first = s.create(kinds.DEPLOYMENT, _deploy(), namespace="ns")
    stale = first["metadata"]["resourceVersion"]
    second = s.update(kinds.DEPLOYMENT, "ns", "web", lambda d: {**d, "spec": {"replicas": 2}})
    assert int(second["metadata"]["resourceVersion"]) > int(stale)
    assert second["metadata"]["generation"] == 2

    def stale_write(d: dict) -> dict:
        d["metadata"]["resourceVersion"] = stale
        d["spec"]["replicas"] = 5
        return d

    with pytest.raises(ApiError) as e:
        s.update(kinds.DEPLOYMENT, "ns", "web", stale_write)
    assert e.value.code == 409 and "the object has been modified" in e.value.message
    assert s.get(kinds.DEPLOYMENT, "ns", "web")["spec"]["replicas"] == 2


def test_status_subresource_and_main_resource_do_not_overwrite_each_other() -> None:
    s = _store()
    s.create(kinds.DEPLOYMENT, _deploy(), namespace="ns")
    s.update(
        kinds.DEPLOYMENT,
        "ns",
        "web",
        lambda d: {**d, "spec": {"replicas": 7}, "status": {"replicas": 3}},
        subresource="status",
    )
    d = s.get(kinds.DEPLOYMENT, "ns", "web")
    assert d["status"] == {"replicas": 3} and d["spec"]["replicas"] == 1 and d["metadata"]["generation"] == 1
    s.update(
        kinds.DEPLOYMENT,
        "ns",
        "web",
        lambda d: {**d, "metadata": {**d["metadata"], "labels": {"a": "b"}}, "status": {"replicas": 0}},
    )
    d = s.get(kinds.DEPLOYMENT, "ns", "web")
    assert d["status"] == {"replicas": 3} and d["metadata"]["labels"] == {"a": "b"}
    assert d["metadata"]["generation"] == 1, "a metadata-only change does not bump generation"


def test_a_no_op_write_keeps_the_resource_version() -> None:
    s = _store()
    rv = s.create(kinds.DEPLOYMENT, _deploy(), namespace="ns")["metadata"]["resourceVersion"]
    assert s.update(kinds.DEPLOYMENT, "ns", "web", lambda d: d)["metadata"]["resourceVersion"] == rv


def test_invalid_objects_are_422() -> None:
    s = _store()
    with pytest.raises(ApiError) as e:
        s.create(kinds.DEPLOYMENT, {"metadata": {"name": "Bad_Name"}}, namespace="ns")
    assert e.value.code == 422
    with pytest.raises(ApiError) as e:
        s.create(kinds.DEPLOYMENT, {"metadata": {"name": "ok"}, "spec": {"replicas": -1}}, namespace="ns")
    assert e.value.code == 422 and e.value.details["causes"][0]["field"] == "spec.replicas"


def test_the_change_log_is_bounded_and_says_when_history_is_gone() -> None:
    s = _store()
    s.create(kinds.DEPLOYMENT, _deploy(), namespace="ns")
    start = s.resource_version
    for n in range(20):
        s.update(kinds.DEPLOYMENT, "ns", "web", lambda d, n=n: {**d, "spec": {"replicas": n}})
    assert s.changes_since(start) is None, "too old: a watcher must get 410 Gone"
    recent = s.changes_since(s.resource_version - 3)
    assert recent is not None and [c.type for c in recent] == ["MODIFIED"] * 3


def test_deleting_a_namespace_deletes_what_is_in_it() -> None:
    s = _store()
    s.create(kinds.DEPLOYMENT, _deploy(), namespace="ns")
    s.delete(kinds.NAMESPACE, None, "ns")
    assert s.find(kinds.DEPLOYMENT, "ns", "web") is None
    with pytest.raises(ApiError) as e:
        s.delete(kinds.DEPLOYMENT, "ns", "web")
    assert e.value.code == 404 and e.value.details == {"name": "web", "kind": "deployments", "group": "apps"}

"""Selectors, patches, tables and the EKS scaling rule: pure functions of the sandbox."""

from __future__ import annotations

import datetime as dt

import pytest

from sentinel.sandbox import aws_gateway, patches, selectors, tables
from sentinel.sandbox.status import ApiError

POD = {
    "metadata": {"name": "p", "namespace": "ns", "labels": {"app": "web", "tier": "front"}},
    "spec": {"nodeName": "n1"},
    "status": {"phase": "Running"},
}


@pytest.mark.parametrize(
    ("selector", "matches"),
    [
        ("app=web", True),
        ("app==web", True),
        ("app!=web", False),
        ("app=db", False),
        ("app in (db, web)", True),
        ("app notin (web)", False),
        ("missing notin (x)", True),
        ("tier", True),
        ("!tier", False),
        ("!missing", True),
        ("app=web,tier in (front,back)", True),
        ("app=web,tier=back", False),
        ("", True),
    ],
)
def test_label_selectors_match_as_the_api_server_does(selector: str, matches: bool) -> None:
    assert selectors.match_labels(selectors.parse_labels(selector), POD) is matches


def test_a_bad_label_key_is_a_400() -> None:
    with pytest.raises(ApiError) as e:
        selectors.parse_labels("bad key!=x")
    assert e.value.code == 400


def test_field_selectors_and_unsupported_fields() -> None:
    allowed = ("spec.nodeName", "status.phase")
    assert selectors.parse_fields("metadata.name=p,status.phase=Running", allowed=allowed)(POD)
    assert not selectors.parse_fields("spec.nodeName!=n1", allowed=allowed)(POD)
    with pytest.raises(ApiError) as e:
        selectors.parse_fields("spec.image=x", allowed=allowed)
    assert e.value.code == 400 and "field label not supported" in e.value.message


def test_merge_patch_replaces_lists_and_null_deletes() -> None:
    target = {"a": {"b": 1, "c": 2}, "l": [1, 2]}
    assert patches.merge(target, {"a": {"b": None, "d": 3}, "l": [3]}) == {"a": {"c": 2, "d": 3}, "l": [3]}
    assert target == {"a": {"b": 1, "c": 2}, "l": [1, 2]}, "the target is not mutated"


def test_json_patch_operations_rfc6902() -> None:
    doc = {"spec": {"replicas": 1, "list": ["a", "c"]}, "metadata": {"labels": {"x/y": "1"}}}
    out = patches.json_patch(
        doc,
        [
            {"op": "replace", "path": "/spec/replicas", "value": 3},
            {"op": "add", "path": "/spec/list/1", "value": "b"},
            {"op": "add", "path": "/spec/list/-", "value": "d"},
            {"op": "remove", "path": "/metadata/labels/x~1y"},
            {"op": "copy", "from": "/spec/replicas", "path": "/spec/copied"},
            {"op": "test", "path": "/spec/copied", "value": 3},
        ],
    )
    assert out == {"spec": {"replicas": 3, "list": ["a", "b", "c", "d"], "copied": 3}, "metadata": {"labels": {}}}
    with pytest.raises(patches.PatchError):
        patches.json_patch(doc, [{"op": "test", "path": "/spec/replicas", "value": 9}])
    with pytest.raises(patches.PatchError):
        patches.json_patch(doc, [{"op": "replace", "path": "/spec/nope", "value": 1}])


def test_strategic_merge_merges_containers_by_name_and_deletes() -> None:
    spec = {"containers": [{"name": "a", "image": "a:1"}, {"name": "b", "image": "b:1"}]}
    out = patches.strategic(spec, {"containers": [{"name": "b", "image": "b:2"}, {"name": "c", "image": "c:1"}]})
    assert out["containers"] == [
        {"name": "a", "image": "a:1"},
        {"name": "b", "image": "b:2"},
        {"name": "c", "image": "c:1"},
    ]
    out = patches.strategic(spec, {"containers": [{"name": "a", "$patch": "delete"}]})
    assert out["containers"] == [{"name": "b", "image": "b:1"}]


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (45, "45s"),
        (312, "5m12s"),
        (47 * 60, "47m"),
        (3 * 3600 + 300, "3h5m"),
        (20 * 3600, "20h"),
        (52 * 3600, "2d4h"),
        (12 * 86400, "12d"),
    ],
)
def test_ages_print_like_kubectl(seconds: int, text: str) -> None:
    now = dt.datetime(2025, 1, 10, tzinfo=dt.UTC)
    created = (now - dt.timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert tables.age(created, now=now) == text


@pytest.mark.parametrize(
    ("sizes", "problem"),
    [
        ({"minSize": 0, "desiredSize": 0, "maxSize": 4}, None),
        ({"minSize": 2, "desiredSize": 0, "maxSize": 4}, "Minimum"),
        ({"minSize": 0, "desiredSize": 5, "maxSize": 4}, "Desired"),
        ({"minSize": 0, "desiredSize": 0, "maxSize": 0}, "Maximum"),
    ],
)
def test_eks_scaling_config_rule(sizes: dict[str, int], problem: str | None) -> None:
    found = aws_gateway.check(sizes)
    assert (found is None) if problem is None else (found is not None and found.startswith(problem))


def test_update_answer_has_the_real_eks_shape() -> None:
    update = aws_gateway.real_update(
        {"id": "u1", "status": "Successful", "params": [{"type": "ScalingConfig"}], "createdAt": 1},
        {"minSize": 0, "maxSize": 4, "desiredSize": 0},
    )
    assert update["status"] == "InProgress" and update["type"] == "ConfigUpdate"
    assert update["params"] == [
        {"type": "MinSize", "value": "0"},
        {"type": "MaxSize", "value": "4"},
        {"type": "DesiredSize", "value": "0"},
    ]

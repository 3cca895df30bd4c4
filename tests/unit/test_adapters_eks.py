"""The boto3 node-group adapter: what it sends, and how AWS's answers become Sentinel errors."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.stub import Stubber

from sentinel.errors import PermanentError, TransientError
from sentinel.ops.adapters import eks

CREDS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}


def describe_response(lo: int, want: int, hi: int, status: str = "ACTIVE") -> dict[str, Any]:
    return {
        "nodegroup": {
            "nodegroupName": "ng",
            "clusterName": "c",
            "status": status,
            "scalingConfig": {"minSize": lo, "desiredSize": want, "maxSize": hi},
        }
    }


@pytest.fixture
def stubbed() -> tuple[eks.EksNodeGroups, Stubber]:
    client = eks.client("ap-southeast-2", env={**CREDS, "AWS_ENDPOINT_URL": "http://127.0.0.1:9"})
    stub = Stubber(client)
    stub.activate()
    return eks.EksNodeGroups("c", client), stub


def test_client_uses_the_endpoint_region_and_adaptive_retries() -> None:
    client = eks.client("eu-west-1", env={**CREDS, "AWS_ENDPOINT_URL": "http://127.0.0.1:5555"}, max_attempts=7)
    assert client.meta.endpoint_url == "http://127.0.0.1:5555"
    assert client.meta.region_name == "eu-west-1"
    assert client.meta.config.retries["mode"] == "adaptive"
    assert client.meta.config.retries["total_max_attempts"] == 7


def test_explicit_endpoint_beats_env_and_eks_specific_env_beats_generic() -> None:
    env = {**CREDS, "AWS_ENDPOINT_URL": "http://127.0.0.1:1", "AWS_ENDPOINT_URL_EKS": "http://127.0.0.1:2"}
    assert eks.client("us-east-1", env=env).meta.endpoint_url == "http://127.0.0.1:2"
    assert eks.client("us-east-1", env=env, endpoint_url="http://127.0.0.1:3").meta.endpoint_url == "http://127.0.0.1:3"


def test_scale_sends_all_three_sizes_and_the_token(stubbed: tuple[eks.EksNodeGroups, Stubber]) -> None:
    ngs, stub = stubbed
    stub.add_response("describe_nodegroup", describe_response(2, 2, 4), {"clusterName": "c", "nodegroupName": "ng"})
    stub.add_response(
        "update_nodegroup_config",
        {"update": {"id": "u1", "status": "InProgress", "type": "ConfigUpdate"}},
        {
            "clusterName": "c",
            "nodegroupName": "ng",
            "scalingConfig": {"minSize": 0, "maxSize": 4, "desiredSize": 0},
            "clientRequestToken": "sleep-evt-1-ng",
        },
    )
    assert ngs.scale("ng", min=0, desired=0, max=4, token="sleep-evt-1-ng") is True
    stub.assert_no_pending_responses()


def test_update_in_progress_is_transient(stubbed: tuple[eks.EksNodeGroups, Stubber]) -> None:
    ngs, stub = stubbed
    stub.add_response("describe_nodegroup", describe_response(2, 2, 4, "UPDATING"))
    stub.add_client_error(
        "update_nodegroup_config",
        service_error_code="ResourceInUseException",
        service_message="Nodegroup ng is currently being updated",
        http_status_code=409,
    )
    with pytest.raises(TransientError, match="ResourceInUseException") as info:
        ngs.scale("ng", min=0, desired=0, max=4, token="t")
    assert info.value.__cause__ is not None  # raise … from e keeps the SDK error for the traceback


@pytest.mark.parametrize(
    ("code", "status", "kind"),
    [
        ("ThrottlingException", 400, TransientError),
        ("ServerException", 500, TransientError),
        ("ServiceUnavailableException", 503, TransientError),
        ("AccessDeniedException", 403, PermanentError),
        ("InvalidParameterException", 400, PermanentError),
        ("ResourceNotFoundException", 404, PermanentError),
    ],
)
def test_describe_errors_are_translated(
    stubbed: tuple[eks.EksNodeGroups, Stubber], code: str, status: int, kind: type[Exception]
) -> None:
    ngs, stub = stubbed
    stub.add_client_error(
        "describe_nodegroup", service_error_code=code, service_message="m" * 2000, http_status_code=status
    )
    with pytest.raises(kind) as info:
        ngs.describe("ng")
    assert code in str(info.value)
    assert len(str(info.value)) < 450  # the payload is cut short


def test_unreachable_endpoint_is_transient() -> None:
    client = eks.client("ap-southeast-2", env={**CREDS, "AWS_ENDPOINT_URL": "http://127.0.0.1:9"}, max_attempts=1)
    with pytest.raises(TransientError, match="describe node group c/ng"):
        eks.EksNodeGroups("c", client).describe("ng")

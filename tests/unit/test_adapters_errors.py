"""One error vocabulary: every SDK failure becomes TransientError (retry) or PermanentError (dead-letter)."""

from __future__ import annotations

import json

import botocore.exceptions
import pytest
import urllib3.exceptions
from kubernetes.client.exceptions import ApiException

from sentinel.errors import PermanentError, TransientError
from sentinel.ops.adapters import errors


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (0, TransientError),  # no response at all
        (404, PermanentError),
        (400, PermanentError),
        (401, PermanentError),
        (403, PermanentError),
        (422, PermanentError),
        (409, TransientError),
        (429, TransientError),
        (500, TransientError),
        (503, TransientError),
        (504, TransientError),
    ],
)
def test_kube_statuses(status: int, kind: type[Exception]) -> None:
    body = json.dumps({"kind": "Status", "message": 'deployments.apps "coredns" not found', "code": status})
    err = errors.kube(ApiException(status=status, reason="X", body=body), what="read coredns")
    assert type(err) is kind
    assert str(err).startswith("read coredns: ")
    assert 'deployments.apps "coredns" not found' in str(err)


def test_kube_message_comes_from_the_status_body_and_is_cut_short() -> None:
    err = errors.kube(ApiException(status=404, body='{"message":"' + "x" * 5000 + '"}'), what="get")
    assert isinstance(err, PermanentError)
    assert len(str(err)) < 350


def test_kube_connection_problems_are_transient() -> None:
    err = errors.kube(urllib3.exceptions.MaxRetryError(None, "/api", "refused"), what="list nodes")  # type: ignore[arg-type]
    assert isinstance(err, TransientError)
    assert isinstance(errors.kube(ConnectionRefusedError("refused"), what="x"), TransientError)


def client_error(code: str, status: int) -> botocore.exceptions.ClientError:
    return botocore.exceptions.ClientError(
        {"Error": {"Code": code, "Message": "msg"}, "ResponseMetadata": {"HTTPStatusCode": status}}, "Op"
    )


@pytest.mark.parametrize(
    ("code", "status", "kind"),
    [
        ("ResourceInUseException", 409, TransientError),
        ("ThrottlingException", 400, TransientError),
        ("TooManyRequestsException", 429, TransientError),
        ("ServerException", 500, TransientError),
        ("SomethingNew", 502, TransientError),
        ("ResourceNotFoundException", 404, PermanentError),
        ("InvalidParameterException", 400, PermanentError),
        ("AccessDeniedException", 403, PermanentError),
        ("UnrecognizedClientException", 403, PermanentError),
    ],
)
def test_aws_codes(code: str, status: int, kind: type[Exception]) -> None:
    err = errors.aws(client_error(code, status), what="scale ng")
    assert type(err) is kind
    assert code in str(err)


def test_aws_transport_and_local_validation() -> None:
    unreachable = botocore.exceptions.EndpointConnectionError(endpoint_url="http://x")
    assert isinstance(errors.aws(unreachable, what="d"), TransientError)
    slow = botocore.exceptions.ReadTimeoutError(endpoint_url="http://x")
    assert isinstance(errors.aws(slow, what="d"), TransientError)
    assert isinstance(errors.aws(botocore.exceptions.ParamValidationError(report="bad"), what="d"), PermanentError)
    assert isinstance(errors.aws(botocore.exceptions.NoCredentialsError(), what="d"), PermanentError)


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (RuntimeError("Request failed with status code 404: Job x does not exist."), PermanentError),
        (RuntimeError("Request failed with status code 400: bad entrypoint"), PermanentError),
        (RuntimeError("Request failed with status code 500: Traceback …"), TransientError),
        (ConnectionError("Failed to connect to Ray at address: http://h:8265."), TransientError),
        (TimeoutError("timed out"), TransientError),
        (ValueError("runtime_env: working_dir must be a URI"), PermanentError),
    ],
)
def test_ray_errors(exc: Exception, kind: type[Exception]) -> None:
    assert type(errors.ray(exc, what="submit")) is kind

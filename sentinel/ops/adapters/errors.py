"""SDK errors → Sentinel's two: :class:`TransientError` (retry) and :class:`PermanentError` (never retry).

Each helper *returns* the translated error so the call site reads ``raise aws(e, what=…) from e``.
Messages name the operation and are cut short with :func:`sentinel.errors.shorten`.
"""

from __future__ import annotations

import json
import re

import botocore.exceptions as botoerr
import urllib3.exceptions
from kubernetes.client.exceptions import ApiException

from sentinel.errors import PermanentError, SentinelError, TransientError, shorten

TRANSIENT_AWS_CODES = frozenset(
    {
        "ResourceInUseException",  # EKS: another update of this node group is in progress
        "ThrottlingException",
        "Throttling",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "ServiceUnavailableException",
        "ServiceUnavailable",
        "ServerException",
        "InternalFailure",
        "InternalServerError",
        "RequestTimeout",
        "RequestTimeoutException",
        "ExpiredToken",
        "ExpiredTokenException",
    }
)
TRANSIENT_STATUSES = frozenset({408, 409, 425, 429})


def is_transient_status(status: int | None) -> bool:
    """HTTP status → retry? 0/None means no response at all (connection refused, reset)."""
    if not status:
        return True
    return status in TRANSIENT_STATUSES or status >= 500


def _make(transient: bool, message: str) -> SentinelError:
    return TransientError(message) if transient else PermanentError(message)


def aws(e: Exception, *, what: str) -> SentinelError:
    """botocore ``ClientError`` and friends → Sentinel error."""
    if isinstance(e, botoerr.ClientError):
        err = e.response.get("Error", {})
        code = str(err.get("Code", ""))
        status = e.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        transient = code in TRANSIENT_AWS_CODES or (status is not None and status >= 500)
        return _make(transient, f"{what}: {code or status}: {shorten(err.get('Message', e))}")
    if isinstance(e, botoerr.ParamValidationError):
        return PermanentError(f"{what}: invalid request: {shorten(e)}")
    if isinstance(e, botoerr.NoCredentialsError | botoerr.PartialCredentialsError):
        return PermanentError(f"{what}: no AWS credentials: {shorten(e)}")
    if isinstance(
        e,
        botoerr.EndpointConnectionError
        | botoerr.ConnectionClosedError
        | botoerr.ConnectTimeoutError
        | botoerr.ReadTimeoutError
        | botoerr.HTTPClientError,
    ):
        return TransientError(f"{what}: {shorten(e)}")
    return PermanentError(f"{what}: {type(e).__name__}: {shorten(e)}")


def kube(e: Exception, *, what: str) -> SentinelError:
    """``kubernetes.client.ApiException`` / urllib3 errors → Sentinel error."""
    if isinstance(e, ApiException):
        reason = _kube_message(e)
        return _make(is_transient_status(e.status), f"{what}: {e.status} {shorten(reason)}")
    if isinstance(e, urllib3.exceptions.HTTPError | OSError | TimeoutError):
        return TransientError(f"{what}: {type(e).__name__}: {shorten(e)}")
    return PermanentError(f"{what}: {type(e).__name__}: {shorten(e)}")


def _kube_message(e: ApiException) -> str:
    """The ``message`` of the API server's ``Status`` body, else the HTTP reason."""
    body = e.body
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    if isinstance(body, str) and body.lstrip().startswith("{"):
        try:
            doc = json.loads(body)
        except ValueError:
            doc = None
        if isinstance(doc, dict) and doc.get("message"):
            return str(doc["message"])
    return str(e.reason or body or "")


_RAY_STATUS = re.compile(r"status code (\d{3})")


def ray_status(e: BaseException) -> int | None:
    """The HTTP status inside a Ray SDK ``RuntimeError('Request failed with status code 404: …')``."""
    m = _RAY_STATUS.search(str(e))
    return int(m.group(1)) if m else None


def ray(e: Exception, *, what: str) -> SentinelError:
    """Ray Jobs SDK errors (``RuntimeError`` with a status, ``requests`` connection errors) → Sentinel error."""
    if isinstance(e, ConnectionError | TimeoutError | OSError):  # requests' errors are OSErrors
        return TransientError(f"{what}: Ray dashboard unreachable: {type(e).__name__}: {shorten(e)}")
    status = ray_status(e)
    if status is not None:
        return _make(is_transient_status(status), f"{what}: {shorten(e)}")
    if isinstance(e, ValueError | TypeError):
        return PermanentError(f"{what}: invalid request: {shorten(e)}")
    if "connect" in str(e).lower() or "timed out" in str(e).lower():
        return TransientError(f"{what}: {shorten(e)}")
    return PermanentError(f"{what}: {type(e).__name__}: {shorten(e)}")

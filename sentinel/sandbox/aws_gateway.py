"""A WSGI layer in front of moto that gives EKS ``UpdateNodegroupConfig`` the real service's behaviour.

moto 5 stores a node group's new ``scalingConfig`` but does not validate it, answers with its own ``params``
shape and ignores ``clientRequestToken``. In front of it (inside the sandbox process only) this layer:

* rejects what EKS rejects — ``InvalidParameterException`` (HTTP 400) when min > desired, desired > max or max < 1;
* answers the real shape: ``{"update": {"id", "status": "InProgress", "type": "ConfigUpdate",
  "params": [{"type": "MinSize"|"MaxSize"|"DesiredSize", "value": "N"}], "createdAt", "errors": []}}``;
* is idempotent per ``clientRequestToken`` (a retry with the same token returns the same update);
* reports each accepted change to ``on_scaled(cluster, nodegroup, old, new)`` the moment it is made.
"""

from __future__ import annotations

import io
import json
import logging
import re
import threading
from collections.abc import Callable, Iterable
from typing import Any

log = logging.getLogger("sentinel.sandbox.aws")
_UPDATE = re.compile(r"^/clusters/(?P<cluster>[^/]+)/node-groups/(?P<ng>[^/]+)/update-config/?$")
_REGION = re.compile(r"Credential=[^/]+/\d{8}/(?P<region>[^/]+)/eks/")
Sizes = dict[str, int]
Lookup = Callable[[str, str, str], Sizes | None]  # (region, cluster, nodegroup) -> current scalingConfig
OnScaled = Callable[[str, str, Sizes, Sizes], None]


def check(sizes: Sizes) -> str | None:
    """EKS's rule for a scaling config; the message for an ``InvalidParameterException``, or ``None``."""
    lo, want, hi = sizes.get("minSize", 0), sizes.get("desiredSize", 0), sizes.get("maxSize", 1)
    if min(lo, want, hi) < 0:
        return "Nodegroup sizes must not be negative"
    if hi < 1:
        return f"Maximum capacity {hi} must be at least 1"
    if lo > want:
        return f"Minimum capacity {lo} can't be greater than desired size {want}"
    if want > hi:
        return f"Desired capacity {want} can't be greater than max size {hi}"
    return None


def real_update(update: dict[str, Any], sizes: Sizes) -> dict[str, Any]:
    params = [
        {"type": t, "value": str(sizes[k])}
        for t, k in (("MinSize", "minSize"), ("MaxSize", "maxSize"), ("DesiredSize", "desiredSize"))
        if k in sizes
    ]
    return {**update, "status": "InProgress", "type": "ConfigUpdate", "params": params, "errors": []}


class NodegroupGateway:
    def __init__(self, app: Callable[..., Iterable[bytes]], *, lookup: Lookup, on_scaled: OnScaled) -> None:
        self._app = app
        self._lookup = lookup
        self._on_scaled = on_scaled
        self._tokens: dict[str, bytes] = {}
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        m = _UPDATE.match(environ.get("PATH_INFO", ""))
        if environ.get("REQUEST_METHOD") != "POST" or not m:
            return self._app(environ, start_response)
        try:
            return self._update(environ, start_response, m.group("cluster"), m.group("ng"))
        except Exception:  # never let the hook break moto: fall back to moto's own answer
            log.exception("nodegroup gateway failed; passing the request to moto")
            return self._app(environ, start_response)

    def _update(
        self, environ: dict[str, Any], start_response: Callable[..., Any], cluster: str, ng: str
    ) -> Iterable[bytes]:
        raw = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        environ["wsgi.input"] = io.BytesIO(raw)
        body = json.loads(raw or b"{}")
        token = body.get("clientRequestToken")
        rm = _REGION.search(environ.get("HTTP_AUTHORIZATION", ""))
        region = rm.group("region") if rm else "us-east-1"
        with self._lock:  # one update at a time: check, apply and report stay in order
            if token and f"{cluster}/{ng}/{token}" in self._tokens:
                return _respond(start_response, "200 OK", self._tokens[f"{cluster}/{ng}/{token}"])
            old = self._lookup(region, cluster, ng)
            scaling = {k: int(v) for k, v in (body.get("scalingConfig") or {}).items()}
            new = {**(old or {}), **scaling}
            if old is not None and scaling:
                problem = check(new)
                if problem:
                    return _error(start_response, problem, cluster, ng)
            captured: dict[str, Any] = {}

            def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[..., Any]:
                captured["status"], captured["headers"] = status, headers
                return lambda _data: None

            out = b"".join(self._app(environ, capture))
            if not captured.get("status", "").startswith("200") or old is None:
                return _respond(
                    start_response, captured.get("status", "500 Internal Server Error"), out, captured.get("headers")
                )
            update = json.loads(out)["update"]
            out = json.dumps({"update": real_update(update, scaling)}).encode()
            if token:
                self._tokens[f"{cluster}/{ng}/{token}"] = out
            if scaling:
                self._on_scaled(cluster, ng, old, new)
        return _respond(start_response, "200 OK", out)


def _respond(
    start_response: Callable[..., Any], status: str, body: bytes, headers: list[tuple[str, str]] | None = None
) -> list[bytes]:
    kept = [(k, v) for k, v in (headers or [("Content-Type", "application/json")]) if k.lower() != "content-length"]
    start_response(status, [*kept, ("Content-Length", str(len(body)))])
    return [body]


def _error(start_response: Callable[..., Any], message: str, cluster: str, ng: str) -> list[bytes]:
    body = json.dumps({"message": message, "clusterName": cluster, "nodegroupName": ng}).encode()
    return _respond(
        start_response,
        "400 Bad Request",
        body,
        [("Content-Type", "application/json"), ("x-amzn-ErrorType", "InvalidParameterException")],
    )

"""The Kubernetes API emulator's HTTP surface: discovery, CRUD, patch, subresources, watch — over one :class:`Store`."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from sentinel.sandbox import kinds, patches, selectors, status, tables, watches
from sentinel.sandbox.kinds import Kind
from sentinel.sandbox.store import Obj, Store

log = logging.getLogger("sentinel.sandbox.api")
JSON_TYPE = "application/json"
_PATCH_TYPES = (patches.JSON, patches.MERGE, patches.STRATEGIC)


@dataclass(frozen=True)
class Target:
    kind: Kind
    namespace: str | None
    name: str | None
    subresource: str | None
    legacy_watch: bool = False


def _json(data: Any, code: int = 200) -> Response:
    return Response(json.dumps(data, separators=(",", ":")), status_code=code, media_type=JSON_TYPE)


def _error(err: status.ApiError) -> Response:
    return _json(status.body(err), err.code)


def parse_path(path: str) -> Target | None:
    """``/apis/apps/v1/namespaces/kube-system/deployments/coredns/scale`` → Target; ``None``: not a resource path."""
    seg = [s for s in path.split("/") if s]
    if len(seg) >= 2 and seg[0] == "api":
        group, version, rest = "", seg[1], seg[2:]
    elif len(seg) >= 3 and seg[0] == "apis":
        group, version, rest = seg[1], seg[2], seg[3:]
    else:
        return None
    watch = bool(rest) and rest[0] == "watch"
    rest = rest[1:] if watch else rest
    namespace = None
    if len(rest) >= 3 and rest[0] == "namespaces" and not (group == "" and len(rest) == 3 and rest[2] == "status"):
        namespace, rest = rest[1], rest[2:]
    if not rest or len(rest) > 3:
        raise status.no_resource()
    kind = kinds.lookup(group, version, rest[0])
    if kind is None or (namespace is not None and not kind.namespaced):
        raise status.no_resource()
    sub = rest[2] if len(rest) == 3 else None
    if sub not in (None, "status") and not (sub == "scale" and kind.scale):
        raise status.no_resource()
    return Target(kind, namespace, rest[1] if len(rest) > 1 else None, sub, watch)


def scale_of(deploy: Obj) -> Obj:
    """The ``autoscaling/v1`` ``Scale`` view of a Deployment."""
    meta = deploy["metadata"]
    match = ((deploy.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
    return {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            k: meta[k] for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp") if k in meta
        },
        "spec": {"replicas": (deploy.get("spec") or {}).get("replicas", 1)},
        "status": {
            "replicas": (deploy.get("status") or {}).get("replicas", 0),
            "selector": ",".join(f"{k}={v}" for k, v in match.items()),
        },
    }


class Emulator:
    """The Starlette app; ``server_address`` is what ``/api`` reports to clients."""

    def __init__(self, store: Store, *, server_address: str = "127.0.0.1") -> None:
        self.store = store
        self.server_address = server_address
        self.app = Starlette(
            routes=[Route("/{path:path}", self.dispatch, methods=["GET", "POST", "PUT", "PATCH", "DELETE"])]
        )

    async def dispatch(self, request: Request) -> Response:
        try:
            return await self._dispatch(request)
        except status.ApiError as e:
            if e.code >= 500:
                log.error("api error %s %s: %s", request.method, request.url.path, e.message)
            return _error(e)
        except Exception as e:  # the emulator survives its own bugs: log, answer 500, carry on
            log.exception("internal error on %s %s", request.method, request.url.path)
            return _error(status.ApiError(500, f"internal error: {type(e).__name__}: {e}"))

    async def _dispatch(self, request: Request) -> Response:
        path = request.url.path
        if request.method == "GET":
            doc = self._discovery(path)
            if doc is not None:
                return doc
        target = parse_path(path)
        if target is None:
            raise status.no_resource()
        method = request.method
        if target.name is None:
            if method == "GET":
                return self._list(request, target)
            if method == "POST":
                return _json(self.store.create(target.kind, await _body(request), namespace=target.namespace), 201)
        elif target.legacy_watch:
            pass
        elif method == "GET":
            obj = self.store.get(target.kind, target.namespace, target.name)
            return _json(scale_of(obj) if target.subresource == "scale" else obj)
        elif method == "PUT":
            return self._replace(target, await _body(request))
        elif method == "PATCH":
            return self._patch(target, request.headers.get("content-type", ""), await _body(request))
        elif method == "DELETE" and target.subresource is None:
            opts = await _body(request, optional=True)
            return _json(
                self.store.delete(
                    target.kind, target.namespace, target.name, preconditions=(opts or {}).get("preconditions")
                )
            )
        raise status.ApiError(405, f"the server does not allow this method on the requested resource ({method})")

    # ---- discovery ---------------------------------------------------------------------------------------------

    def _discovery(self, path: str) -> Response | None:
        p = path.rstrip("/") or "/"
        if p == "/version":
            return _json(kinds.SERVER_VERSION)
        if p == "/api":
            return _json(kinds.core_versions(self.server_address))
        if p == "/apis":
            return _json(kinds.group_list())
        if p in ("/healthz", "/readyz", "/livez"):
            return Response("ok", media_type="text/plain")
        seg = p.strip("/").split("/")
        if seg[0] == "api" and len(seg) == 2:
            doc = kinds.resource_list("", seg[1])
        elif seg[0] == "apis" and len(seg) == 2:
            doc = kinds.group(seg[1])
        elif seg[0] == "apis" and len(seg) == 3:
            doc = kinds.resource_list(seg[1], seg[2])
        else:
            return None
        if doc is None:
            raise status.no_resource()
        return _json(doc)

    # ---- reads -------------------------------------------------------------------------------------------------

    def _list(self, request: Request, target: Target) -> Response:
        q = request.query_params
        labels = selectors.parse_labels(q.get("labelSelector"))
        fields = selectors.parse_fields(q.get("fieldSelector"), allowed=target.kind.field_labels)

        def match(obj: Obj) -> bool:
            return selectors.match_labels(labels, obj) and fields(obj)

        accept = request.headers.get("accept", "")
        if target.legacy_watch or q.get("watch") in ("true", "1"):
            timeout = _timeout(q.get("timeoutSeconds"))
            req = watches.WatchRequest(
                target.kind, target.namespace, match, q.get("resourceVersion"), timeout, tables.wants_table(accept)
            )
            return StreamingResponse(watches.stream(self.store, req), media_type=JSON_TYPE)
        items, rv = self.store.list(target.kind, namespace=target.namespace, fields=match)
        if tables.wants_table(accept):
            return _json(tables.table(target.kind, items, resource_version=rv))
        k = target.kind
        return _json(
            {"kind": k.list_kind, "apiVersion": k.api_version, "metadata": {"resourceVersion": str(rv)}, "items": items}
        )

    # ---- writes ------------------------------------------------------------------------------------------------

    def _replace(self, target: Target, body: Any) -> Response:
        if not isinstance(body, dict):
            raise status.bad_request("the body of the request must be a JSON object")
        k, name = target.kind, str(target.name)
        if target.subresource == "scale":
            if body.get("kind", "Scale") != "Scale":
                raise status.bad_request(f"expected kind Scale, got {body.get('kind')!r}")
            replicas = _replicas(body)
            rv = (body.get("metadata") or {}).get("resourceVersion")
            obj = self.store.update(k, target.namespace, name, lambda cur: _set_replicas(cur, replicas, rv))
            return _json(scale_of(obj))
        if body.get("kind") not in (None, k.kind) or body.get("apiVersion") not in (None, k.api_version):
            raise status.bad_request(
                f"the API version/kind in the data ({body.get('apiVersion')}/{body.get('kind')}) "
                f"does not match the expected {k.api_version}/{k.kind}"
            )
        return _json(self.store.update(k, target.namespace, name, lambda _cur: body, subresource=target.subresource))

    def _patch(self, target: Target, content_type: str, doc: Any) -> Response:
        ctype = content_type.split(";")[0].strip().lower()
        k, name = target.kind, str(target.name)
        if ctype not in _PATCH_TYPES or (ctype == patches.STRATEGIC and k.custom):
            raise status.ApiError(
                415,
                f"the body of the request was in an unknown format - accepted media types "
                f"include: {', '.join(_PATCH_TYPES[:2] if k.custom else _PATCH_TYPES)}",
            )
        if ctype == patches.JSON and not isinstance(doc, list):
            raise status.bad_request("json: cannot unmarshal object into Go value of type jsonpatch.Patch")
        if ctype != patches.JSON and not isinstance(doc, dict):
            raise status.bad_request("json: cannot unmarshal non-object into Go value of type map[string]interface {}")

        def patched(cur: Obj) -> Obj:
            try:
                if target.subresource == "scale":
                    scale = patches.apply(ctype, scale_of(cur), doc)
                    return _set_replicas(cur, _replicas(scale), (scale.get("metadata") or {}).get("resourceVersion"))
                out = patches.apply(ctype, cur, doc)
            except patches.PatchError as e:
                raise status.ApiError(422, f"the patch could not be applied: {e}") from None
            if not isinstance(out, dict):
                raise status.ApiError(422, "the patched object is not a JSON object")
            return out

        obj = self.store.update(
            k,
            target.namespace,
            name,
            patched,
            subresource=None if target.subresource == "scale" else target.subresource,
        )
        return _json(scale_of(obj) if target.subresource == "scale" else obj)


def _replicas(scale: Any) -> int:
    replicas = ((scale or {}).get("spec") or {}).get("replicas", 0) if isinstance(scale, dict) else None
    if isinstance(replicas, bool) or not isinstance(replicas, int) or replicas < 0:
        name = ((scale or {}).get("metadata") or {}).get("name", "") if isinstance(scale, dict) else ""
        raise status.invalid(
            "autoscaling",
            "Scale",
            name,
            [("spec.replicas", f"Invalid value: {replicas!r}: must be greater than or equal to 0")],
        )
    return replicas


def _set_replicas(cur: Obj, replicas: int, rv: Any) -> Obj:
    cur.setdefault("spec", {})["replicas"] = replicas
    if rv:
        cur["metadata"]["resourceVersion"] = str(rv)
    return cur


def _timeout(raw: str | None) -> float:
    if raw in (None, ""):
        return watches.DEFAULT_TIMEOUT
    try:
        return max(0.0, float(raw))
    except ValueError:
        raise status.bad_request(f"invalid timeoutSeconds {raw!r}") from None


async def _body(request: Request, *, optional: bool = False) -> Any:
    raw = await request.body()
    if not raw.strip():
        if optional:
            return None
        raise status.bad_request("the request body is empty")
    try:
        return json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise status.bad_request(f"couldn't get version/kind; json parse error: {e}") from None

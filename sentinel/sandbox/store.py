"""The in-memory object store behind one lock: resourceVersion, uid, generation, conflicts, a bounded change log.

Stored objects are never mutated in place — every write stores a fresh dict — so readers may hold the dicts
:meth:`Store.get` and :meth:`Store.list` return without copying them, and must not change them.
"""

from __future__ import annotations

import builtins
import copy
import datetime as dt
import re
import secrets
import threading
import uuid
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from sentinel.sandbox import status
from sentinel.sandbox.kinds import ALL, DEPLOYMENT, NAMESPACE, POD, Kind
from sentinel.sandbox.selectors import Requirement, match_labels

Obj = dict[str, Any]
_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_SYSTEM = ("uid", "creationTimestamp", "name", "namespace", "deletionTimestamp", "deletionGracePeriodSeconds")


@dataclass(frozen=True)
class Change:
    rv: int
    type: str  # ADDED, MODIFIED, DELETED
    kind: Kind
    old: Obj | None
    new: Obj


def timestamp(at: dt.datetime | None = None) -> str:
    return (at or dt.datetime.now(dt.UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _spec_part(obj: Obj) -> Obj:
    return {k: v for k, v in obj.items() if k not in ("metadata", "status", "kind", "apiVersion")}


def _meta(obj: Obj) -> dict[str, Any]:
    return obj.get("metadata") or {}


class Store:
    def __init__(self, *, log_size: int = 4096) -> None:
        self.lock = threading.RLock()
        self._objects: dict[str, dict[tuple[str, str], Obj]] = {}
        self._rv = 0
        self._log: deque[Change] = deque(maxlen=log_size)
        self._dropped = 0
        self._listeners: list[Callable[[Change], None]] = []
        self._waiters: dict[int, Callable[[], None]] = {}

    # ---- reads -------------------------------------------------------------------------------------------------

    @property
    def resource_version(self) -> int:
        return self._rv

    def get(self, kind: Kind, namespace: str | None, name: str) -> Obj:
        with self.lock:
            obj = self._objects.get(kind.key, {}).get((namespace or "", name))
        if obj is None:
            raise status.not_found(kind.group, kind.plural, name)
        return obj

    def find(self, kind: Kind, namespace: str | None, name: str) -> Obj | None:
        with self.lock:
            return self._objects.get(kind.key, {}).get((namespace or "", name))

    def list(
        self,
        kind: Kind,
        *,
        namespace: str | None = None,
        labels: list[Requirement] | None = None,
        fields: Callable[[Obj], bool] | None = None,
    ) -> tuple[list[Obj], int]:
        with self.lock:
            items = [
                o for (ns, _), o in sorted(self._objects.get(kind.key, {}).items()) if not namespace or ns == namespace
            ]
            rv = self._rv
        if labels:
            items = [o for o in items if match_labels(labels, o)]
        if fields:
            items = [o for o in items if fields(o)]
        return items, rv

    def changes_since(self, rv: int) -> builtins.list[Change] | None:
        """Changes after ``rv``, oldest first; ``None`` when some of them have left the bounded log (410 Gone)."""
        with self.lock:
            if rv < self._dropped:
                return None
            out: list[Change] = []
            for change in reversed(self._log):
                if change.rv <= rv:
                    break
                out.append(change)
        out.reverse()
        return out

    # ---- notification ------------------------------------------------------------------------------------------

    def add_listener(self, fn: Callable[[Change], None]) -> None:
        """``fn`` runs under the lock, in commit order, for every change (keep it quick, never write back)."""
        self._listeners.append(fn)

    def subscribe(self, wake: Callable[[], None]) -> Callable[[], None]:
        """``wake()`` is called after every commit (from any thread); returns the unsubscribe function."""
        token = id(wake)
        with self.lock:
            self._waiters[token] = wake

        def unsubscribe() -> None:
            with self.lock:
                self._waiters.pop(token, None)

        return unsubscribe

    def _commit(self, ctype: str, kind: Kind, old: Obj | None, new: Obj) -> None:
        change = Change(self._rv, ctype, kind, old, new)
        if len(self._log) == self._log.maxlen:
            self._dropped = self._log[0].rv
        self._log.append(change)
        for fn in self._listeners:
            fn(change)
        for wake in list(self._waiters.values()):
            wake()

    def _next_rv(self) -> str:
        self._rv += 1
        return str(self._rv)

    # ---- writes ------------------------------------------------------------------------------------------------

    def create(self, kind: Kind, obj: Obj, *, namespace: str | None = None, internal: bool = False) -> Obj:
        """Create ``obj``; ``internal`` (controllers) keeps the status a client's create would lose."""
        new = copy.deepcopy(obj)
        new["apiVersion"], new["kind"] = kind.api_version, kind.kind
        meta = new.setdefault("metadata", {})
        if not isinstance(meta, dict):
            raise status.bad_request("metadata must be an object")
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = str(meta["generateName"]) + secrets.token_hex(3)[:5]
        name = meta.get("name") or ""
        if kind.namespaced:
            namespace = namespace or meta.get("namespace") or "default"
            if meta.get("namespace") and meta["namespace"] != namespace:
                raise status.bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request"
                )
            meta["namespace"] = namespace
        else:
            meta.pop("namespace", None)
            namespace = ""
        _validate(kind, new)
        for field in ("uid", "resourceVersion", "deletionTimestamp", "generation"):
            meta.pop(field, None)
        if not internal:
            new.pop("status", None)
            _initial_status(kind, new)
        if kind is DEPLOYMENT and isinstance(new.get("spec"), dict):
            new["spec"].setdefault("replicas", 1)
        with self.lock:
            bucket = self._objects.setdefault(kind.key, {})
            if (namespace, name) in bucket:
                raise status.already_exists(kind.group, kind.plural, name)
            if kind.namespaced and ("", namespace) not in self._objects.get(NAMESPACE.key, {}):
                raise status.not_found("", "namespaces", namespace)
            meta["uid"] = str(uuid.uuid4())
            meta["creationTimestamp"] = (
                meta.get("creationTimestamp") if internal and meta.get("creationTimestamp") else timestamp()
            )
            if kind.has_generation:
                meta["generation"] = 1
            meta["resourceVersion"] = self._next_rv()
            bucket[(namespace, name)] = new
            self._commit("ADDED", kind, None, new)
        return new

    def update(
        self,
        kind: Kind,
        namespace: str | None,
        name: str,
        change: Callable[[Obj], Obj],
        *,
        subresource: str | None = None,
    ) -> Obj:
        """Replace the object with ``change(copy_of_current)``, atomically.

        A ``metadata.resourceVersion`` in the result that differs from the stored one is a stale write: 409.
        ``subresource="status"`` takes only ``status`` from the result; the main resource never changes status;
        ``subresource="*"`` (controllers only) takes both, as a kubelet or controller writing spec and status would.
        """
        ns = namespace or ""
        with self.lock:
            old = self._objects.get(kind.key, {}).get((ns, name))
            if old is None:
                raise status.not_found(kind.group, kind.plural, name)
            new = change(copy.deepcopy(old))
            if not isinstance(new, dict) or not isinstance(new.get("metadata", {}), dict):
                raise status.bad_request("the object must be a JSON object with an object metadata")
            meta = new.setdefault("metadata", {})
            wanted_rv = meta.get("resourceVersion")
            if wanted_rv not in (None, "") and str(wanted_rv) != old["metadata"]["resourceVersion"]:
                raise status.conflict(kind.group, kind.plural, name)
            if meta.get("name", name) != name:
                raise status.bad_request(
                    f"the name of the object ({meta.get('name')}) does not match the name on the URL ({name})"
                )
            if subresource == "status":
                new = {**copy.deepcopy(old), "status": new.get("status")}
                if new["status"] is None:
                    new.pop("status")
            else:
                new["apiVersion"], new["kind"] = kind.api_version, kind.kind
                if subresource == "*":
                    pass
                elif "status" in old:
                    new["status"] = copy.deepcopy(old["status"])
                else:
                    new.pop("status", None)
                _validate(kind, new)
            meta = new["metadata"]
            for field in _SYSTEM:
                if field in old["metadata"]:
                    meta[field] = old["metadata"][field]
                else:
                    meta.pop(field, None)
            if kind.has_generation:
                bump = _spec_part(new) != _spec_part(old)
                meta["generation"] = old["metadata"].get("generation", 1) + (1 if bump else 0)
            if {**new, "metadata": {**meta, "resourceVersion": old["metadata"]["resourceVersion"]}} == old:
                return old  # a no-op write does not bump resourceVersion, as on a real server
            meta["resourceVersion"] = self._next_rv()
            self._objects[kind.key][(ns, name)] = new
            self._commit("MODIFIED", kind, old, new)
        return new

    def mark_terminating(self, kind: Kind, namespace: str | None, name: str, *, grace: int = 30) -> Obj | None:
        """Set ``deletionTimestamp`` (a graceful delete in progress); controllers only."""
        ns = namespace or ""
        with self.lock:
            old = self._objects.get(kind.key, {}).get((ns, name))
            if old is None or _meta(old).get("deletionTimestamp"):
                return old
            new = copy.deepcopy(old)
            new["metadata"]["deletionTimestamp"] = timestamp()
            new["metadata"]["deletionGracePeriodSeconds"] = grace
            new["metadata"]["resourceVersion"] = self._next_rv()
            self._objects[kind.key][(ns, name)] = new
            self._commit("MODIFIED", kind, old, new)
        return new

    def delete(
        self, kind: Kind, namespace: str | None, name: str, *, preconditions: dict[str, Any] | None = None
    ) -> Obj:
        ns = namespace or ""
        with self.lock:
            old = self._objects.get(kind.key, {}).get((ns, name))
            if old is None:
                raise status.not_found(kind.group, kind.plural, name)
            for field in ("uid", "resourceVersion"):
                want = (preconditions or {}).get(field)
                if want and str(want) != old["metadata"][field]:
                    raise status.ApiError(
                        409,
                        f"Precondition failed: {field} in precondition: {want}, {field} in object meta: "
                        f"{old['metadata'][field]}",
                        details={"name": name, "kind": kind.plural},
                    )
            del self._objects[kind.key][(ns, name)]
            gone = {**old, "metadata": {**old["metadata"], "resourceVersion": self._next_rv()}}
            self._commit("DELETED", kind, old, gone)
            if kind is NAMESPACE:
                self._delete_contents(name)
        return gone

    def _delete_contents(self, namespace: str) -> None:
        for key, bucket in self._objects.items():
            for ns, name in [k for k in bucket if k[0] == namespace]:
                obj = bucket.pop((ns, name))
                gone = {**obj, "metadata": {**obj["metadata"], "resourceVersion": self._next_rv()}}
                self._commit("DELETED", _kind_of(key, obj), obj, gone)

    def clear(self, kinds: Iterable[Kind]) -> None:
        """Delete every object of these kinds (watchers see DELETED events)."""
        with self.lock:
            for kind in kinds:
                for ns, name in list(self._objects.get(kind.key, {})):
                    self.delete(kind, ns, name)


def _kind_of(key: str, obj: Obj) -> Kind:
    return next(k for k in ALL if k.key == key)


def _initial_status(kind: Kind, obj: Obj) -> None:
    if kind is POD:
        obj["status"] = {"phase": "Pending", "qosClass": "BestEffort"}
    elif kind is NAMESPACE:
        obj["status"] = {"phase": "Active"}


def _validate(kind: Kind, obj: Obj) -> None:
    meta = obj["metadata"]
    name = meta.get("name") or ""
    causes: list[tuple[str, str]] = []
    pattern = _LABEL if kind is NAMESPACE else _NAME
    if not name:
        causes.append(("metadata.name", "Required value: name or generateName is required"))
    elif len(name) > 253 or not pattern.match(name):
        causes.append(
            (
                "metadata.name",
                f"Invalid value: {name!r}: a lowercase RFC 1123 subdomain must consist of "
                "lower case alphanumeric characters, '-' or '.'",
            )
        )
    for field in ("labels", "annotations"):
        value = meta.get(field)
        if value is not None and (not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values())):
            causes.append((f"metadata.{field}", "Invalid value: must be a map of string to string"))
    if kind is DEPLOYMENT:
        replicas = (obj.get("spec") or {}).get("replicas", 1)
        if isinstance(replicas, bool) or not isinstance(replicas, int) or replicas < 0:
            causes.append(("spec.replicas", f"Invalid value: {replicas!r}: must be greater than or equal to 0"))
    if "spec" in obj and not isinstance(obj["spec"], dict):
        causes.append(("spec", "Invalid value: must be an object"))
    if causes:
        raise status.invalid(kind.group, kind.kind, name, causes)

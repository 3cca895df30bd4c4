"""Watch streams: newline-delimited ``{"type", "object"}`` events that honour resourceVersion and timeoutSeconds."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from sentinel.sandbox import status, tables
from sentinel.sandbox.kinds import Kind
from sentinel.sandbox.store import Change, Store

Obj = dict[str, Any]
DEFAULT_TIMEOUT = 1800.0


@dataclass(frozen=True)
class WatchRequest:
    kind: Kind
    namespace: str | None
    match: Callable[[Obj], bool]
    resource_version: str | None
    timeout: float = DEFAULT_TIMEOUT
    as_table: bool = False


def event_for(change: Change, req: WatchRequest) -> tuple[str, Obj] | None:
    """What a watcher with this selector sees of a change: entering the selection is ADDED, leaving it DELETED."""
    if change.kind is not req.kind:
        return None
    if req.namespace and change.new["metadata"].get("namespace") != req.namespace:
        return None
    was = change.old is not None and req.match(change.old)
    if change.type == "DELETED":
        return ("DELETED", change.new) if was else None
    now = req.match(change.new)
    if now and was:
        return ("MODIFIED", change.new)
    if now:
        return ("ADDED", change.new)
    if was:
        return ("DELETED", change.new)
    return None


def _line(kind: str, obj: Obj, req: WatchRequest, *, first: bool) -> bytes:
    if req.as_table:
        obj = tables.table(req.kind, [obj], resource_version=int(obj["metadata"]["resourceVersion"]), headers=first)
    return (json.dumps({"type": kind, "object": obj}, separators=(",", ":")) + "\n").encode()


def _gone(rv: str) -> bytes:
    err = status.ApiError(410, f"too old resource version: {rv}", reason="Expired")
    return (json.dumps({"type": "ERROR", "object": status.body(err)}) + "\n").encode()


async def stream(store: Store, req: WatchRequest) -> AsyncIterator[bytes]:
    loop = asyncio.get_running_loop()
    wake = asyncio.Event()

    def notify() -> None:
        loop.call_soon_threadsafe(wake.set)

    unsubscribe = store.subscribe(notify)
    deadline = loop.time() + req.timeout
    first = True
    try:
        if req.resource_version in (None, "", "0"):
            items, last = store.list(req.kind, namespace=req.namespace, fields=req.match)
            for obj in items:
                yield _line("ADDED", obj, req, first=first)
                first = False
        else:
            try:
                last = int(req.resource_version)
            except ValueError:
                yield _gone(req.resource_version)
                return
        while True:
            wake.clear()
            changes = store.changes_since(last)
            if changes is None:
                yield _gone(str(last))
                return
            for change in changes:
                last = change.rv
                ev = event_for(change, req)
                if ev:
                    yield _line(ev[0], ev[1], req, first=first)
                    first = False
            remaining = deadline - loop.time()
            if remaining <= 0:
                return
            try:
                await asyncio.wait_for(wake.wait(), remaining)
            except TimeoutError:
                return
    finally:
        unsubscribe()

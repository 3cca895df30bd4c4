"""Watch streams on an in-memory store: replay after a resourceVersion, 410 Gone when it left the log, timeouts."""

from __future__ import annotations

import asyncio
import json
import time

from sentinel.sandbox import kinds, watches
from sentinel.sandbox.store import Store


def _collect(store: Store, rv: str | None, timeout: float) -> list[dict]:
    req = watches.WatchRequest(kinds.NAMESPACE, None, lambda o: True, rv, timeout)

    async def run() -> list[dict]:
        return [json.loads(line) async for line in watches.stream(store, req)]

    return asyncio.run(run())


def test_replays_changes_after_the_resource_version_and_ends_at_the_timeout() -> None:
    store = Store()
    store.create(kinds.NAMESPACE, {"metadata": {"name": "a"}})
    rv = str(store.resource_version)
    store.create(kinds.NAMESPACE, {"metadata": {"name": "b"}})
    store.update(kinds.NAMESPACE, None, "b", lambda o: {**o, "metadata": {**o["metadata"], "labels": {"x": "y"}}})
    store.delete(kinds.NAMESPACE, None, "a")
    started = time.monotonic()
    events = _collect(store, rv, 0.3)
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [
        ("ADDED", "b"),
        ("MODIFIED", "b"),
        ("DELETED", "a"),
    ]
    assert 0.25 <= time.monotonic() - started < 1.0


def test_a_resource_version_older_than_the_log_gets_410_gone() -> None:
    store = Store(log_size=4)
    store.create(kinds.NAMESPACE, {"metadata": {"name": "a"}})
    for n in range(10):
        store.update(
            kinds.NAMESPACE, None, "a", lambda o, n=n: {**o, "metadata": {**o["metadata"], "labels": {"n": str(n)}}}
        )
    events = _collect(store, "1", 5)
    assert len(events) == 1 and events[0]["type"] == "ERROR"
    assert events[0]["object"]["code"] == 410 and events[0]["object"]["reason"] == "Expired"

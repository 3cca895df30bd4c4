"""The echo playbook: exercises the event loop (retries, dead letters, redelivery) with no cloud behind it.

With ``key`` set its effect is idempotent: the first run that completes records it, later runs of the same
event (a redelivery after a crash) see it is done and do nothing.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from sentinel.errors import PermanentError, TransientError
from sentinel.events import keys
from sentinel.events.types import NoopData
from sentinel.ops.context import Context


def run(ctx: Context, data: NoopData) -> Mapping[str, Any]:
    if data.key:
        ctx.redis.rpush(keys.effect(f"noop:{data.key}:runs"), f"{ctx.event.id}:{ctx.attempt}")
    if data.sleep:
        time.sleep(data.sleep)
    if data.fail == "permanent":
        raise PermanentError(f"noop: asked to fail permanently ({data.message or 'no message'})")
    if data.fail == "transient" and ctx.attempt <= data.fail_times:
        raise TransientError(f"noop: transient failure {ctx.attempt} of {data.fail_times}")
    applied = False
    if data.key:
        applied = bool(ctx.redis.set(keys.effect(f"noop:{data.key}"), ctx.event.id, nx=True))
        if applied:
            ctx.redis.incr(keys.effect(f"noop:{data.key}:count"))
    return {"echo": data.message, "applied": applied}

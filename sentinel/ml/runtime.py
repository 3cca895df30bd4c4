"""Connecting to Ray the same way from a CLI, a Ray Job, a test or the bench."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator

import ray


def ray_env(env: dict[str, str] | None = None) -> dict[str, str]:
    """Usage stats off and pointed nowhere: nothing phones home."""
    out = dict(os.environ) if env is None else dict(env)
    out.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    out.setdefault("RAY_USAGE_STATS_REPORT_URL", "http://127.0.0.1:9/")
    return out


def ensure_ray(address: str | None = None, *, log_to_driver: bool = True) -> None:
    """Connect to an existing cluster (``address``, else ``RAY_ADDRESS``, else ``auto``); never start one."""
    if ray.is_initialized():
        return
    for k, v in ray_env({}).items():
        os.environ.setdefault(k, v)
    ray.init(
        address=address or os.environ.get("RAY_ADDRESS") or "auto",
        log_to_driver=log_to_driver,
        configure_logging=False,
    )


@contextlib.contextmanager
def stdout_to_stderr() -> Iterator[None]:
    """Point fd 1 at fd 2 (C-level writes and Ray's log streaming included) so a CLI's stdout is its JSON only."""
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    try:
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)

"""One playbook at a time per cluster: a redis-py ``Lock`` whose lease is renewed while the playbook runs.

If the worker dies, renewal stops and the lease runs out, so the redelivered task (or the next event) can take
over; nothing waits for a dead holder longer than ``lease`` seconds.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import redis
from redis.exceptions import LockError

from sentinel import logs
from sentinel.errors import TransientError, shorten

log = logs.get("sentinel.lock")


class Held:
    def __init__(self, lock: redis.lock.Lock, lease: float) -> None:
        self.lock = lock
        self.lease = lease
        self._stop = threading.Event()
        self.lost = False
        self._thread = threading.Thread(target=self._renew, name="lock-renew", daemon=True)
        self._thread.start()

    def _renew(self) -> None:
        while not self._stop.wait(self.lease / 3):
            try:
                self.lock.reacquire()
            except (LockError, redis.RedisError) as e:
                self.lost = True
                log.warning("lock.lost", name=self.lock.name, error=shorten(e))
                return

    def release(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        # expired while we were stopping: someone else may hold it now, which is fine
        with contextlib.suppress(LockError):
            self.lock.release()


@contextmanager
def hold(client: redis.Redis, name: str, *, lease: float = 30.0, wait: float = 0.0) -> Iterator[Held | None]:
    """Yield a renewed lock, or ``None`` when someone else holds it (after waiting up to ``wait`` seconds)."""
    lock = client.lock(name, timeout=lease, blocking=wait > 0, blocking_timeout=wait or None, thread_local=False)
    try:
        got = lock.acquire(blocking=wait > 0, blocking_timeout=wait or None)
    except redis.RedisError as e:
        raise TransientError(f"lock {name}: {shorten(e)}") from e
    if not got:
        yield None
        return
    held = Held(lock, lease)
    try:
        yield held
    finally:
        held.release()

"""The loop that makes the store a cluster: node lifecycle, workloads and the autoscaler, on cluster time.

Desired sizes come from moto over boto3 (polled), and instantly from the gateway when an update is made.
Like a real controller's informer, the loop also reacts at once to a change of what is *wanted* — a new
object, a changed ``spec`` (a deployment scaled through its ``scale`` subresource), a deletion — instead of
waiting for its next tick; time-driven work (nodes booting, draining) still runs on the tick.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from sentinel.config import Cluster
from sentinel.sandbox.autoscaler import Autoscaler
from sentinel.sandbox.clock import ClusterClock
from sentinel.sandbox.history import History
from sentinel.sandbox.nodes import NodeLifecycle
from sentinel.sandbox.store import Change, Store, timestamp
from sentinel.sandbox.workloads import Workloads

log = logging.getLogger("sentinel.sandbox.simulation")
Sizes = dict[str, int]


class Simulation:
    def __init__(
        self,
        store: Store,
        history: History,
        cluster: Cluster,
        *,
        clock: ClusterClock,
        read_sizes: Callable[[str], Sizes | None],
        set_desired: Callable[[str, int], None],
        boot_delay: float,
        drain_delay: float,
        autoscaler_scan: float,
        tick: float = 0.05,
        poll: float = 0.5,
    ) -> None:
        self.store, self.history, self.cluster, self.clock = store, history, cluster, clock
        self._read_sizes, self._set_desired = read_sizes, set_desired
        self._delays = (boot_delay, drain_delay, autoscaler_scan)
        self.tick, self.poll = tick, poll
        self._step_lock = threading.RLock()
        self._sizes_lock = threading.Lock()
        self._sizes: dict[str, Sizes] = {}
        self._last_poll = 0.0
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.errors = 0
        self.steps = 0
        self._build()
        store.add_listener(self._on_change)

    def _build(self) -> None:
        boot, drain, scan = self._delays
        self.nodes = NodeLifecycle(self.store, self.history, self.cluster, boot_delay=boot, drain_delay=drain)
        self.workloads = Workloads(self.store, self.history)
        self.autoscaler = Autoscaler(self.store, self.history, self.cluster, scan=scan, set_desired=self._set_desired)
        self.autoscaler._next = self.clock.now() + scan

    # ---- sizes -------------------------------------------------------------------------------------------------

    def sizes(self) -> dict[str, Sizes]:
        with self._sizes_lock:
            return {k: dict(v) for k, v in self._sizes.items()}

    def desired_changed(self, nodegroup: str, sizes: Sizes) -> None:
        """Called by the gateway (from moto's thread) the moment an update is accepted; must not block."""
        with self._sizes_lock:
            self._sizes[nodegroup] = dict(sizes)
        self._wake.set()

    def refresh(self) -> None:
        fresh = {ng: s for ng in self.cluster.nodegroups if (s := self._read_sizes(ng)) is not None}
        with self._sizes_lock:
            self._sizes = fresh
        self._last_poll = time.monotonic()

    def _on_change(self, change: Change) -> None:
        """Runs under the store's lock: only wakes the loop. Status-only writes (the controllers' own) do not."""
        if change.type != "MODIFIED" or (change.old or {}).get("spec") != change.new.get("spec"):
            self._wake.set()

    # ---- running -----------------------------------------------------------------------------------------------

    def step(self) -> None:
        with self._step_lock:
            if time.monotonic() - self._last_poll >= self.poll:
                try:
                    self.refresh()
                except Exception:
                    log.exception("could not read node group sizes from moto")
            now, at, sizes = self.clock.now(), timestamp(), self.sizes()
            for name, run in (
                ("nodes", lambda: self.nodes.step(now, sizes, at=at)),
                ("workloads", lambda: self.workloads.step(at=at)),
                ("autoscaler", lambda: self.autoscaler.step(now, sizes)),
                ("workloads", lambda: self.workloads.step(at=at)),
            ):
                try:
                    run()
                except Exception:  # a race with a client (an object deleted under us): log, retry next tick
                    self.errors += 1
                    log.exception("the %s controller failed; retrying on the next tick", name)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()  # before the step: a change made during it runs the loop again at once
            self.step()
            self.steps += 1
            self._wake.wait(self._pause())

    def _pause(self) -> float:
        """Until the next tick, or sooner when a node is due to finish booting or draining before it."""
        with self._step_lock:
            due = self.nodes.next_due(self.clock.now())
        return self.tick if due is None else min(self.tick, self.clock.real(due))

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="sandbox-simulation", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread:
            self._thread.join(timeout=5)

    def reseed(self, seed: Callable[[], None]) -> None:
        """Pause the controllers, run ``seed()``, start the controllers afresh and settle the seeded state."""
        with self._step_lock:
            seed()
            self.refresh()
            self._build()
            self.nodes.seed(self.sizes(), at=timestamp())
            self.workloads.step(at=timestamp())
            self.workloads.step(at=timestamp())
            self.history.clear()

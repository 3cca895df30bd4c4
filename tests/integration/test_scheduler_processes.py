"""Two scheduler replicas, one shared dedup store: exactly one accepted event per fire time.

Each replica is a real ``Scheduler`` with its own APScheduler ``BackgroundScheduler`` thread and executor,
firing on the wall clock. The per-minute cron's *trigger* is swapped for a per-second ``CronTrigger``
(``second="*"``) so the test takes seconds, not minutes; everything else — the scheduled time handed to the
job, the ids, the catch-up from the real per-minute cron — is the production path. The bus stand-in is
``SET dedup:<source>:<id> NX`` on a shared fakeredis server, as the real bus dedups on ``(source, id)``.
"""

from __future__ import annotations

import datetime as dt
import itertools
import threading
import time
from collections import defaultdict
from dataclasses import dataclass

import fakeredis
from apscheduler.triggers.cron import CronTrigger

from sentinel import config
from sentinel.events import types
from sentinel.events.envelope import Event
from sentinel.events.scheduler import Scheduler

UTC = dt.UTC


@dataclass(frozen=True)
class Published:
    accepted: bool


@dataclass(frozen=True)
class Attempt:
    replica: str
    event: Event
    accepted: bool


class DedupBus:
    """One replica's connection to the shared dedup store."""

    def __init__(self, server: fakeredis.FakeServer, replica: str, log: list[Attempt], lock: threading.Lock) -> None:
        self.redis = fakeredis.FakeRedis(server=server)
        self.replica, self.log, self.lock = replica, log, lock

    def publish(self, event: Event) -> Published:
        accepted = bool(self.redis.set(f"dedup:{event.source}:{event.id}", self.replica, nx=True, ex=600))
        with self.lock:
            self.log.append(Attempt(self.replica, event, accepted))
        return Published(accepted)


def test_two_replicas_publish_each_fire_exactly_once() -> None:
    cfg = config.from_mapping(
        {
            "clusters": {
                "training": {"eks_cluster": "t", "nodegroups": {"ng": {"awake": {"min": 0, "desired": 1, "max": 2}}}}
            },
            "schedules": [{"name": "every-minute", "cluster": "training", "action": "wake", "cron": "* * * * *"}],
        },
        env={},
    )
    server, log, lock = fakeredis.FakeServer(), [], threading.Lock()
    replicas = [
        Scheduler(
            cfg,
            publish=DedupBus(server, name, log, lock).publish,
            trigger=lambda s: CronTrigger(second="*", timezone=UTC),
        )
        for name in ("a", "b")
    ]
    time.sleep(1.05 - (time.time() % 1))  # start both just after a second boundary, so both see every fire
    started = dt.datetime.now(UTC)
    try:
        for r in replicas:
            r.start()
        time.sleep(3.6)
    finally:
        for r in replicas:
            r.stop()

    by_id: dict[str, list[Attempt]] = defaultdict(list)
    for a in log:
        by_id[a.event.id].append(a)

    # Every fire time (and the start-up catch-up) was offered by both replicas and accepted exactly once.
    assert len(by_id) >= 4
    for eid, attempts in by_id.items():
        assert sorted(a.replica for a in attempts) == ["a", "b"], eid
        assert sum(a.accepted for a in attempts) == 1, eid

    accepted = sorted((a.event for a in log if a.accepted), key=lambda e: e.time)
    assert all(e.type == types.WAKE and e.subject == "training" for e in accepted)

    # The catch-up is the per-minute cron's last fire; the rest are the per-second fires, one per second, no gaps.
    catch_up = [e for e in accepted if e.time <= started]
    assert [e.time for e in catch_up] == [started.replace(second=0, microsecond=0)]
    assert catch_up[0].id == f"every-minute@{started:%Y-%m-%dT%H:%M}:00Z"
    fires = [e.time for e in accepted if e.time > started]
    assert len(fires) >= 3
    assert all(t.microsecond == 0 for t in fires)  # the scheduled time, not the moment the job ran
    assert [int((b - a).total_seconds()) for a, b in itertools.pairwise(fires)] == [1] * (len(fires) - 1)
    for e in accepted:
        assert types.data_as(e, types.PowerData).fire_time == e.time

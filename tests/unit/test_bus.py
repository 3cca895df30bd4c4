"""The bus on fakeredis (with Lua): dedup on (source, id), audit records, no silent loss."""

from __future__ import annotations

from typing import Any

import fakeredis
import pytest
import redis

from sentinel.errors import PermanentError, TransientError
from sentinel.events import bus as bus_mod
from sentinel.events import envelope, keys, types
from sentinel.events.audit import Audit
from sentinel.events.bus import Bus


class Recorder:
    def __init__(self, fail: bool = False) -> None:
        self.sent: list[tuple[str, str, str]] = []
        self.fail = fail

    def __call__(self, task: str, *, event: dict[str, Any], queue: str, task_id: str, headers: dict[str, str]) -> None:
        if self.fail:
            raise ConnectionError("broker down")
        self.sent.append((task, queue, event["id"]))


@pytest.fixture
def client() -> redis.Redis:
    return fakeredis.FakeRedis()


def make(client: redis.Redis, send: Recorder, ttl: float = 86400) -> Bus:
    return Bus(client, send=send, audit=Audit(client, maxlen=1000), dedup_ttl=ttl)


def noop(id: str, source: str = "test") -> envelope.Event:
    return envelope.Event(id=id, source=source, type=types.NOOP, data={"message": "hi"})


def test_same_event_three_times_is_sent_once(client: redis.Redis) -> None:
    send = Recorder()
    bus = make(client, send)
    results = [bus.publish(noop("e1")) for _ in range(3)]
    assert [r.status for r in results] == ["accepted", "duplicate", "duplicate"]
    assert send.sent == [("sentinel.events.noop", "events", "e1")]
    kinds = [r.kind for r in Audit(client).read(limit=10)]
    assert kinds == ["accepted", "duplicate", "duplicate"]


def test_same_id_other_source_is_distinct(client: redis.Redis) -> None:
    send = Recorder()
    bus = make(client, send)
    assert bus.publish(noop("e1", "a")).accepted and bus.publish(noop("e1", "b")).accepted
    assert len(send.sent) == 2


def test_dedup_key_expires_with_ttl(client: redis.Redis) -> None:
    bus = make(client, Recorder(), ttl=60)
    bus.publish(noop("e1"))
    ttl = client.pttl(keys.dedup("test", "e1"))
    assert 0 < ttl <= 60_000


def test_invalid_data_is_rejected_and_audited(client: redis.Redis) -> None:
    send = Recorder()
    bus = make(client, send)
    bad = envelope.Event(source="t", type=types.SLEEP, data={})
    with pytest.raises(PermanentError, match="cluster: Field required"):
        bus.publish(bad)
    assert send.sent == []
    rec = Audit(client).read(limit=1)[0]
    assert rec.kind == "rejected" and "cluster: Field required" in rec.fields["reason"]


def test_enqueue_failure_raises_and_releases_claim(client: redis.Redis) -> None:
    bus = make(client, Recorder(fail=True))
    with pytest.raises(TransientError, match="could not enqueue event e1"):
        bus.publish(noop("e1"))
    # nothing was lost: the same event goes through once the broker is back
    send = Recorder()
    assert make(client, send).publish(noop("e1")).accepted
    assert len(send.sent) == 1


def test_redis_unreachable_raises() -> None:
    dead = redis.Redis(port=1, socket_connect_timeout=0.2)
    bus = Bus(dead, send=Recorder(), audit=Audit(dead), dedup_ttl=10)
    with pytest.raises(TransientError, match="Redis unreachable"):
        bus.publish(noop("e1"))


def test_audit_is_capped(client: redis.Redis) -> None:
    bus = Bus(client, send=Recorder(), audit=Audit(client, maxlen=100), dedup_ttl=10)
    for i in range(600):
        bus.publish(noop(f"e{i}"))
    assert client.xlen(keys.AUDIT) < 300


def test_audit_filter_by_event(client: redis.Redis) -> None:
    bus = make(client, Recorder())
    for i in range(5):
        bus.publish(noop(f"e{i}"))
    recs = Audit(client).read(limit=10, event_id="e3")
    assert [r.event_id for r in recs] == ["e3"]


def test_a_prefork_child_freezes_its_start_up_heap() -> None:
    """Full collections in a worker child skip everything imported before the fork (~30 ms each otherwise)."""
    import gc

    from celery import signals

    from sentinel.workers import tasks  # noqa: F401  (connects the handler)

    before = gc.get_freeze_count()
    try:
        signals.worker_process_init.send(sender=None)
        assert gc.get_freeze_count() > before
    finally:
        gc.unfreeze()


def test_claim_lasts_the_dedup_ttl_once_enqueued(client: redis.Redis) -> None:
    bus = make(client, Recorder(), ttl=86_400)
    bus.publish(noop("e1"))
    assert client.pttl(keys.dedup("test", "e1")) > 86_000_000


def test_a_publisher_that_dies_mid_publish_leaves_a_claim_that_lapses(client: redis.Redis) -> None:
    """Killed between the claim and the enqueue: the redelivered event must be accepted within minutes, not be
    a 'duplicate' of something that never ran for the next 24 h."""

    class Dies(Recorder):
        def __call__(
            self, task: str, *, event: dict[str, Any], queue: str, task_id: str, headers: dict[str, str]
        ) -> None:
            raise SystemExit("SIGKILL")  # not an Exception: nothing in publish() gets to clean up

    bus = make(client, Dies(), ttl=86_400)
    with pytest.raises(SystemExit):
        bus.publish(noop("e1"))
    assert 0 < client.pttl(keys.dedup("test", "e1")) <= bus_mod.PENDING_TTL * 1000
    client.delete(keys.dedup("test", "e1"))  # ...which is what PENDING_TTL later does
    send = Recorder()
    assert make(client, send).publish(noop("e1")).accepted and len(send.sent) == 1

"""The local stand-ins' own start-up: distinct ports, and a server is only ever ours."""

from __future__ import annotations

import shutil
import socket
import tempfile
from pathlib import Path

import pytest

from sentinel.localstack import redis_server as rs
from sentinel.localstack.ports import free_ports


def test_ports_picked_together_are_distinct_and_bindable() -> None:
    ports = free_ports(40)
    assert len(set(ports)) == 40
    for port in ports[:5]:
        with socket.socket() as s:
            s.bind(("127.0.0.1", port))  # free right after: nothing kept them


def test_redis_on_a_taken_port_is_refused_not_mistaken_for_ours(tmp_path: Path) -> None:
    first = rs.RedisServer.start(tmp_path / "a")
    try:
        with pytest.raises(RuntimeError, match="could not bind"):
            rs.RedisServer.start(tmp_path / "b", port=first.port)  # the other server answers PING there
    finally:
        first.stop()


def test_redis_on_a_free_port_answers(tmp_path: Path) -> None:
    server = rs.RedisServer.start(tmp_path)
    try:
        import redis

        client = redis.Redis.from_url(server.url)
        assert int(client.info("server")["process_id"]) == server.proc.pid
        client.close()
    finally:
        server.stop()


def test_ray_head_given_one_port_twice_is_a_port_clash_and_is_retried(monkeypatch: pytest.MonkeyPatch) -> None:
    """The CI failure of 2026-12-03: two Ray components got the same port; the head must start anyway."""
    from sentinel.localstack import ray_head

    tmp_path = Path(tempfile.mkdtemp(prefix="rh", dir="/tmp"))  # unix socket paths must stay under 107 bytes
    monkeypatch.chdir(tmp_path)
    try:
        real = ray_head.free_ports
        monkeypatch.setattr(ray_head, "free_ports", lambda n: [real(1)[0]] * n)  # every component on one port
        with pytest.raises(ray_head.PortClash, match=r"same port|port number"):
            ray_head.start("clash", serve=False, workdir=tmp_path, attempts=1, timeout=60)

        tries: list[str | None] = []

        def clash_once(tag: str | None, **_: object) -> str:
            tries.append(tag)
            if len(tries) == 1:
                raise ray_head.PortClash("port taken")
            return "head"

        monkeypatch.setattr(ray_head, "_start_once", clash_once)
        assert ray_head.start("again", serve=False, workdir=tmp_path) == "head"
        assert tries == ["again", "again"]
    finally:
        shutil.rmtree(tmp_path, ignore_errors=True)

"""A private ``redis-server`` on a free loopback port, for the demo, tests and benchmarks."""

from __future__ import annotations

import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import redis

from sentinel.localstack.ports import free_port


class _PortTaken(Exception):
    pass


@dataclass
class RedisServer:
    port: int
    proc: subprocess.Popen[bytes]
    workdir: Path

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @classmethod
    def start(cls, workdir: Path, *, port: int | None = None, appendonly: bool = False) -> RedisServer:
        """Start one on ``port`` (or a free one; retried on fresh ports if another process takes it first)."""
        binary = shutil.which("redis-server")
        if not binary:
            raise RuntimeError("redis-server not found: install it (apt-get install redis-server)")
        workdir.mkdir(parents=True, exist_ok=True)
        for attempt in range(3):
            try:
                return cls._start_once(binary, workdir, port or free_port(), appendonly)
            except _PortTaken:
                if port or attempt == 2:
                    raise RuntimeError(f"redis-server could not bind; see {workdir / 'redis.log'}") from None
        raise AssertionError("unreachable")

    @classmethod
    def _start_once(cls, binary: str, workdir: Path, port: int, appendonly: bool) -> RedisServer:
        proc = subprocess.Popen(
            [
                binary,
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "yes" if appendonly else "no",
                "--dir",
                str(workdir),
                "--protected-mode",
                "yes",
                "--logfile",
                str(workdir / "redis.log"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis(port=port)
        deadline = time.monotonic() + 15
        try:
            while True:
                if proc.poll() is not None:  # exited: most likely the port was taken
                    raise _PortTaken
                try:
                    # the server answering must be ours: its process id, not whatever else listens there
                    if int(client.info("server")["process_id"]) == proc.pid:
                        break
                    proc.kill()
                    raise _PortTaken
                except redis.ConnectionError:
                    if time.monotonic() > deadline:
                        proc.kill()
                        raise RuntimeError(f"redis-server did not start; see {workdir / 'redis.log'}") from None
                    time.sleep(0.05)
        finally:
            client.close()
        return cls(port=port, proc=proc, workdir=workdir)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()

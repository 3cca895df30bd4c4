"""A real local Ray head on loopback, for the demo, the tests (``tests/fixtures/ray_head.py``) and benchmarks.

Register it once (root ``conftest.py``: ``pytest_plugins = ["tests.fixtures.ray_head"]``, or a
test module's ``pytest_plugins``) and ask for the session-scoped ``ray_head`` fixture::

    def test_x(ray_head):
        ray.init(address=ray_head.address)        # GCS ip:port
        JobSubmissionClient(ray_head.dashboard_url)
        httpx.post(f"{ray_head.serve_url}/recommend", ...)
        subprocess.run([...], env=ray_head.env)   # RAY_ADDRESS etc. for child processes

The head binds 127.0.0.1 only, every port is a free one (GCS, dashboard, dashboard agent, Ray
client server, metrics), ``--num-cpus 2``, its ``--temp-dir`` is short and inside the repo
(``.ray/<tag>``: unix socket paths must stay under 107 chars), and Serve's HTTP proxy listens on
its own free port. Stopping it never calls ``ray stop`` (that kills *every* Ray process on the
machine, other people's heads included): the head runs as ``ray start --block`` in its own
session, and stop terminates exactly that process tree, SIGTERM then SIGKILL.

CLI (used by ``scripts/ray-head.sh``)::

    python -m sentinel.localstack.ray_head start [--tag demo]   # prints JSON, writes .ray/<tag>/head.json
    python -m sentinel.localstack.ray_head stop  [--tag demo]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from sentinel.localstack.ports import free_ports

BIN = Path(sys.executable).parent
QUIET_ENV = {"RAY_USAGE_STATS_ENABLED": "0", "RAY_USAGE_STATS_REPORT_URL": "http://127.0.0.1:9/"}


@dataclass(frozen=True)
class RayHead:
    address: str  # GCS "127.0.0.1:PORT" for ray.init(address=…)
    dashboard_url: str  # "http://127.0.0.1:PORT": Jobs API, Serve REST API
    serve_url: str  # "http://127.0.0.1:PORT": Serve HTTP proxy
    temp_dir: str
    pid: int  # the `ray start --block` process; its tree is the head
    env: dict[str, str] = field(default_factory=dict)

    def as_json(self) -> dict[str, object]:
        return {
            "address": self.address,
            "dashboard_url": self.dashboard_url,
            "serve_url": self.serve_url,
            "temp_dir": self.temp_dir,
            "pid": self.pid,
        }


def _get(url: str, timeout: float = 2.0) -> int:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return int(r.status)
    except urllib.error.HTTPError as e:
        return int(e.code)
    except (urllib.error.URLError, OSError):
        return 0


def _wait(
    url: str, *, deadline: float, proc: subprocess.Popen[bytes] | None, what: str, log: Path, any_status: bool = False
) -> None:
    while time.monotonic() < deadline:
        status = _get(url)
        if status == 200 or (any_status and status):
            return
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{what}: process exited {proc.returncode}; see {log}:\n{_tail(log)}")
        time.sleep(0.5)
    raise TimeoutError(f"{what}: {url} did not answer 200 in time; see {log}:\n{_tail(log)}")


def _tail(path: Path, n: int = 30) -> str:
    with contextlib.suppress(OSError):
        return "\n".join(path.read_text(errors="replace").splitlines()[-n:])
    return ""


class PortClash(RuntimeError):
    """The head exited at start because a port it was given was taken (or given twice)."""


_CLASH_MARKS = ("is trying to use a port number", "address already in use", "failed to bind")  # lower case


def start(
    tag: str | None = None, *, num_cpus: int = 2, serve: bool = True, timeout: float = 180.0,
    workdir: Path | None = None, attempts: int = 3,
) -> RayHead:
    """Start a head (and Serve's proxy) on free loopback ports; return once both answer HTTP.

    Ports are picked together (all distinct); if another process takes one before Ray binds it,
    the head exits at once and is started again on fresh ports, up to ``attempts`` times.
    """
    for attempt in range(1, attempts + 1):
        try:
            return _start_once(tag, num_cpus=num_cpus, serve=serve, timeout=timeout, workdir=workdir)
        except PortClash:
            if attempt == attempts:
                raise
    raise AssertionError("unreachable")


def _start_once(
    tag: str | None, *, num_cpus: int, serve: bool, timeout: float, workdir: Path | None
) -> RayHead:
    tag = tag or f"t{os.getpid()}"
    base = workdir or Path.cwd()  # the head's --temp-dir is <workdir>/.ray/<tag>
    temp_dir = base / ".ray" / tag
    if temp_dir.exists():
        shutil.rmtree(temp_dir, ignore_errors=True)
    temp_dir.mkdir(parents=True, exist_ok=True)
    gcs, dash, serve_port, agent_http, agent_grpc, runtime_env, metrics, client, node_mgr, object_mgr = free_ports(10)
    # RAY_ADDRESS in the head's own env: its workers and agents (Ray Train's PlacementGroupCleaner, the
    # state API) otherwise look for "the" local cluster and fail when other heads run on the same machine.
    # The venv's bin first on PATH: a Ray Job entrypoint "python -m sentinel.ml.pipeline" finds this venv.
    env = {**os.environ, **QUIET_ENV, "RAY_ADDRESS": f"127.0.0.1:{gcs}"}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    cmd = [
        str(BIN / "ray"), "start", "--head", "--block",
        "--node-ip-address=127.0.0.1",
        f"--port={gcs}",
        "--include-dashboard=true",
        "--dashboard-host=127.0.0.1",
        f"--dashboard-port={dash}",
        f"--dashboard-agent-listen-port={agent_http}",
        f"--dashboard-agent-grpc-port={agent_grpc}",
        f"--runtime-env-agent-port={runtime_env}",
        f"--metrics-export-port={metrics}",
        f"--ray-client-server-port={client}",  # cannot be switched off on a head; keep it off 10001
        f"--node-manager-port={node_mgr}",
        f"--object-manager-port={object_mgr}",
        f"--num-cpus={num_cpus}",
        "--object-store-memory=300000000",
        f"--temp-dir={temp_dir}",
        "--disable-usage-stats",
    ]  # fmt: skip
    log = temp_dir / "head.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=base, start_new_session=True)
    address, dashboard_url = f"127.0.0.1:{gcs}", f"http://127.0.0.1:{dash}"
    serve_url = f"http://127.0.0.1:{serve_port}"
    client_env = {**QUIET_ENV, "RAY_ADDRESS": address}
    if os.environ.get("RAY_AUTH_MODE"):
        client_env["RAY_AUTH_MODE"] = os.environ["RAY_AUTH_MODE"]
    head = RayHead(address, dashboard_url, serve_url, str(temp_dir), proc.pid, env={**env, **client_env})
    deadline = time.monotonic() + timeout
    try:
        try:
            _wait(f"{dashboard_url}/api/version", deadline=deadline, proc=proc, what="ray dashboard", log=log)
        except RuntimeError as e:
            if any(mark in str(e).lower() for mark in _CLASH_MARKS):
                raise PortClash(str(e)) from e
            raise
        _wait(f"{dashboard_url}/api/jobs/", deadline=deadline, proc=proc, what="ray jobs api", log=log)
        if serve:
            slog = temp_dir / "serve-start.log"
            with open(slog, "wb") as out:
                subprocess.run(
                    [str(BIN / "serve"), "start", f"--address={address}", "--http-host=127.0.0.1",
                     f"--http-port={serve_port}", "--proxy-location=HeadOnly"],
                    stdout=out, stderr=subprocess.STDOUT, env=head.env, cwd=base, check=True,
                    timeout=max(10.0, deadline - time.monotonic()),
                )  # fmt: skip
            _wait(f"{serve_url}/-/healthz", deadline=deadline, proc=proc, what="serve proxy", log=slog, any_status=True)
            # 503 "Route table is not populated yet" until an app is deployed: listening is enough.
    except BaseException:
        stop(head)
        raise
    return head


def _proc_table() -> dict[int, tuple[int, int]]:
    """pid -> (ppid, session id), read from /proc (Linux; no psutil in the venv)."""
    table: dict[int, tuple[int, int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()  # after "pid (comm) "
        table[int(entry)] = (int(fields[1]), int(fields[3]))  # ppid, sid
    return table


def tree(pid: int) -> list[int]:
    """``pid``, its descendants, and anything left in its session (it was started as a session leader)."""
    table = _proc_table()
    found, frontier = {pid} if pid in table else set(), [pid]
    while frontier:
        parent = frontier.pop()
        for child, (ppid, _) in table.items():
            if ppid == parent and child not in found:
                found.add(child)
                frontier.append(child)
    found |= {p for p, (_, sid) in table.items() if sid == pid}
    return sorted(found)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ", 1)[1][0] != "Z"
    except (OSError, IndexError):
        return False


def stop(head: RayHead, *, grace: float = 15.0) -> None:
    """Terminate exactly this head's process tree (SIGTERM, then SIGKILL after ``grace``)."""
    pids = tree(head.pid)
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(_alive(p) for p in pids):
        time.sleep(0.2)
    for pid in [*pids, *tree(head.pid)]:
        if _alive(pid):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(head.pid, os.WNOHANG)


def _state_file(tag: str) -> Path:
    return Path.cwd() / ".ray" / tag / "head.json"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m sentinel.localstack.ray_head")
    p.add_argument("action", choices=["start", "stop"])
    p.add_argument("--tag", default="demo")
    p.add_argument("--num-cpus", type=int, default=2)
    args = p.parse_args(argv)
    state = _state_file(args.tag)
    if args.action == "start":
        if state.exists():
            old = json.loads(state.read_text())
            if _alive(int(old["pid"])):
                print(json.dumps(old))
                return 0
        head = start(args.tag, num_cpus=args.num_cpus)
        state.write_text(json.dumps(head.as_json()))
        print(json.dumps(head.as_json()))
        return 0
    if not state.exists():
        print(json.dumps({"stopped": False, "reason": f"no {state}"}))
        return 0
    old = json.loads(state.read_text())
    stop(RayHead(old["address"], old["dashboard_url"], old["serve_url"], old["temp_dir"], int(old["pid"])))
    state.unlink()
    print(json.dumps({"stopped": True, "pid": old["pid"]}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""``sentinel sandbox up``: the local stand-in cloud (moto + Kubernetes API emulator + simulated controllers)."""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer

from sentinel import config as config_mod
from sentinel.errors import ConfigError

app = typer.Typer(
    help="The local stand-in for AWS (moto) + EKS + Kubernetes, reached over real HTTP.", no_args_is_help=True
)


@app.callback()
def main() -> None:
    """The local stand-in for AWS (moto) + EKS + Kubernetes."""


def _describe(entry_kind: str, name: str, old: object, new: object) -> str:
    if entry_kind == "nodegroup.scaled" and isinstance(old, dict) and isinstance(new, dict):

        def fmt(s: dict) -> str:
            return f"{s.get('minSize')}/{s.get('desiredSize')}/{s.get('maxSize')}"

        return f"{name}: {fmt(old)} -> {fmt(new)}"
    if old is None and new is None:
        return name
    return f"{name}: {old} -> {new}"


@app.command()
def up(
    config: Annotated[Path | None, typer.Option("--config", "-c", help="sentinel.yaml (default: built-in)")] = None,
    time_scale: Annotated[float, typer.Option("--time-scale", help="cluster seconds per real second")] = 1.0,
    env_file: Annotated[Path, typer.Option("--env-file", help="where to write KEY=value lines")] = Path(".sandbox/env"),
    workdir: Annotated[Path, typer.Option("--workdir", help="kubeconfig and state")] = Path(".sandbox"),
    boot_delay: Annotated[float, typer.Option(help="node boot, cluster seconds")] = 90.0,
    drain_delay: Annotated[float, typer.Option(help="node drain, cluster seconds")] = 30.0,
    autoscaler_scan: Annotated[float, typer.Option(help="autoscaler scan interval, cluster seconds")] = 10.0,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="do not print the cluster's timeline")] = False,
) -> None:
    """Start everything, write the kubeconfig and env file, print them, run until Ctrl-C or SIGTERM, clean up."""
    from sentinel.sandbox import Sandbox, kubeconfig

    try:
        cfg = config_mod.load(config)
    except ConfigError as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(2) from None
    if time_scale <= 0:
        typer.echo("error: --time-scale must be positive", err=True)
        raise typer.Exit(2)
    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        stop.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    sb = Sandbox(
        cfg,
        workdir=workdir,
        time_scale=time_scale,
        boot_delay=boot_delay,
        drain_delay=drain_delay,
        autoscaler_scan=autoscaler_scan,
    )
    written: list[Path] = []
    try:
        sb.start()
        written = [sb.kubeconfig, sb.env_file]
        if env_file.resolve() != sb.env_file.resolve():
            written.append(kubeconfig.write(env_file, kubeconfig.env_lines(sb.env)))
        typer.echo(kubeconfig.env_lines(sb.env), nl=False)
        typer.echo(f"# sandbox up: AWS {sb.aws_endpoint}, Kubernetes {sb.kube_url}, time x{time_scale:g}")
        typer.echo(f"# in another shell: set -a; source {env_file}; set +a; kubectl get nodes")
        seen = 0
        while not stop.wait(0.5):
            if quiet:
                continue
            entries = sb.history
            for entry in entries[seen:]:
                stamp = time.strftime("%H:%M:%S", time.localtime(entry.at))
                typer.echo(f"{stamp}  {entry.kind:<22} {_describe(entry.kind, entry.name, entry.old, entry.new)}")
            seen = len(entries)
    finally:
        sb.stop()
        for path in written:
            path.unlink(missing_ok=True)
        for s, handler in previous.items():
            signal.signal(s, handler)
        typer.echo("# sandbox stopped", err=True)

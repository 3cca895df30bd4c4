"""``sentinel …``: the command line (Typer). Every command that changes something enqueues through the bus."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from sentinel import config as config_mod
from sentinel import logs
from sentinel.errors import ConfigError, PermanentError, SentinelError, TransientError

app = typer.Typer(
    name="sentinel",
    help="Event-driven automation for Ray on EKS: sleep/wake schedules, retrain on new data, deploy, ChatOps.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
dlq_app = typer.Typer(
    help="Dead letters: events whose handling failed for good, with the reason.", no_args_is_help=True
)
config_app = typer.Typer(help="Validate sentinel.yaml.", no_args_is_help=True)
app.add_typer(dlq_app, name="dlq")
app.add_typer(config_app, name="config")

T = TypeVar("T")
ConfigOpt = Annotated[
    Path | None,
    typer.Option(
        "--config", "-c", help="sentinel.yaml (default: $SENTINEL_CONFIG, else ./sentinel.yaml, else built-in)"
    ),
]


class State:
    config_path: Path | None = None


STATE = State()


def fail(message: str, code: int = 2) -> None:
    typer.echo(
        f"error: {message}" if not message.startswith(("error", "sentinel.yaml", "/", ".")) else message, err=True
    )
    raise typer.Exit(code)


def guarded(fn: Callable[[], T]) -> T:
    """Run ``fn``; config and input errors exit 2 with their message, transient ones exit 1."""
    try:
        return fn()
    except ConfigError as e:
        typer.echo(str(e), err=True)
        raise typer.Exit(2) from None
    except PermanentError as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(2) from None
    except (TransientError, SentinelError) as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(1) from None


def load_env_file(path: Path) -> dict[str, str]:
    """``KEY=value`` lines (as the sandbox writes them); existing environment variables win."""
    loaded: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.removeprefix("export ").partition("=")
        value = value.strip().strip("'\"")
        if key and key not in os.environ:
            os.environ[key] = value
            loaded[key] = value
    return loaded


def cfg(path: Path | None = None) -> config_mod.Config:
    return guarded(lambda: config_mod.load(path or STATE.config_path))


def rt(path: Path | None = None) -> Any:
    from sentinel.workers import runtime

    return runtime.build(cfg(path))


@app.callback()
def _root(
    config: ConfigOpt = None,
    env_file: Annotated[
        Path | None,
        typer.Option(help="KEY=value file to load first (default: $SENTINEL_ENV_FILE, else .sandbox/env if present)"),
    ] = None,
    log_level: Annotated[str, typer.Option(help="DEBUG, INFO, WARNING")] = "WARNING",
) -> None:
    STATE.config_path = config
    env_path = env_file or (Path(os.environ["SENTINEL_ENV_FILE"]) if os.environ.get("SENTINEL_ENV_FILE") else None)
    if env_path is None and Path(".sandbox/env").exists():
        env_path = Path(".sandbox/env")
    if env_path is not None:
        if not env_path.exists():
            fail(f"{env_path}: no such env file")
        load_env_file(env_path)
    logs.configure(os.environ.get("SENTINEL_LOG_LEVEL", log_level), stream=sys.stderr)


# --- config -----------------------------------------------------------------------------------------------


@config_app.command("check")
def config_check(file: Annotated[Path | None, typer.Argument(help="the file to check")] = None) -> None:
    """Validate FILE (default: the configured sentinel.yaml): print "ok" and a summary, or the error (exit 2)."""
    c = cfg(file)
    typer.echo("ok")
    typer.echo(config_mod.summary(c))


# --- events -----------------------------------------------------------------------------------------------


@app.command()
def emit(
    type: Annotated[str, typer.Argument(help="event type, e.g. sentinel.noop or sentinel.schedule.sleep")],
    id: Annotated[str | None, typer.Option("--id", help="event id (default: a new uuid)")] = None,
    source: Annotated[str, typer.Option(help="event source")] = "sentinel/cli",
    subject: Annotated[str | None, typer.Option(help="event subject (e.g. the cluster)")] = None,
    data: Annotated[str, typer.Option(help="event data as a JSON object")] = "{}",
    correlation_id: Annotated[str | None, typer.Option(help="correlation id to carry")] = None,
) -> None:
    """Publish one event through the bus; prints its id and "accepted" or "duplicate"."""
    from sentinel.events import envelope

    def run() -> None:
        try:
            body = json.loads(data)
        except ValueError as e:
            raise PermanentError(f"--data is not valid JSON: {e}") from None
        raw: dict[str, Any] = {"source": source, "type": type, "data": body}
        if id:
            raw["id"] = id
        if subject:
            raw["subject"] = subject
        if correlation_id:
            raw["correlationid"] = correlation_id
        event = envelope.parse(raw)
        res = rt().bus.publish(event)
        typer.echo(f"{res.event_id} {res.status}")

    guarded(run)


@app.command()
def worker(
    queues: Annotated[str, typer.Option(help="comma-separated queues to consume")] = "ops,ml,events",
    concurrency: Annotated[int, typer.Option(help="worker processes")] = 2,
    pool: Annotated[str, typer.Option(help="celery pool: prefork, solo, threads")] = "prefork",
    hostname: Annotated[str | None, typer.Option(help="worker node name")] = None,
) -> None:
    """Run a Celery worker that handles events (Redis from config / SENTINEL_REDIS_URL)."""
    from sentinel.workers import runtime

    r = runtime.install(rt())
    argv = [
        "worker",
        f"--queues={queues}",
        f"--concurrency={concurrency}",
        f"--pool={pool}",
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
        "--loglevel=WARNING",
    ]
    if hostname:
        argv.append(f"--hostname={hostname}")
    r.app.worker_main(argv)


@app.command()
def audit(
    as_json: Annotated[bool, typer.Option("--json", help="one JSON object per line")] = False,
    limit: Annotated[int, typer.Option(help="how many records (newest)")] = 50,
    event: Annotated[str | None, typer.Option("--event", help="only this event id (or correlation id)")] = None,
) -> None:
    """Print the audit trail, newest last."""
    records = guarded(lambda: rt().audit.read(limit=limit, event_id=event))
    for rec in records:
        if as_json:
            typer.echo(json.dumps(rec.as_dict(), sort_keys=True))
        else:
            f = rec.fields
            extra = " ".join(
                f"{k}={v}" for k, v in f.items() if k not in {"event_id", "source", "type", "correlation_id", "subject"}
            )
            when = f"{rec.at:%Y-%m-%d %H:%M:%S}"
            typer.echo(f"{when} {rec.kind:<14} {f.get('type', '-'):<30} {f.get('event_id', '-'):<34} {extra}")


@dlq_app.command("list")
def dlq_list(
    as_json: Annotated[bool, typer.Option("--json", help="one JSON object per line")] = False,
    limit: Annotated[int, typer.Option(help="how many, newest")] = 100,
) -> None:
    """List dead letters with their error and attempts."""
    for dl in guarded(lambda: rt().dlq.list(limit=limit)):
        if as_json:
            typer.echo(json.dumps(dl.as_dict(), sort_keys=True))
        else:
            ev = dl.event
            typer.echo(
                f"{dl.id}  {ev.get('type', '?'):<30} {ev.get('id', '?'):<34} {dl.error}: {dl.message} "
                f"(attempts {dl.attempts})"
            )


@dlq_app.command("replay")
def dlq_replay(
    entry_id: Annotated[str, typer.Argument(help="the dead letter's id (from `sentinel dlq list`)")],
) -> None:
    """Enqueue a dead letter's event again (bypassing dedup) and remove it from the dead letters."""

    def run() -> None:
        r = rt()
        event = r.dlq.event(entry_id)
        task_id = r.bus.replay(event, reason=f"dlq replay {entry_id}")
        r.dlq.remove(entry_id)
        typer.echo(f"{event.id} replayed as task {task_id}")

    guarded(run)


def _mount_optional() -> None:
    """Sub-apps that live in their own modules (sandbox, schedule, power, …)."""
    import importlib

    for module, name in (
        ("sentinel.cli.sandbox", "sandbox"),
        ("sentinel.cli.schedule", "schedule"),
    ):
        try:
            mod = importlib.import_module(module)
        except ModuleNotFoundError as e:
            if e.name == module:
                continue
            raise
        app.add_typer(mod.app, name=name)
    for module in ("sentinel.cli.power", "sentinel.cli.demo"):
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as e:
            if e.name != module:
                raise


_mount_optional()


def main() -> None:
    app()

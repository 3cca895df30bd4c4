"""The deploy playbook: a model version → Ray Serve (Serve's REST API on a plain Ray head, or the RayService's
``serveConfigV2`` on Kubernetes) → a smoke request to ``/recommend`` → the registry's ``current`` pointer.

A failed smoke request rolls back to the version served before, and says so.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sentinel.errors import PermanentError
from sentinel.events.types import DeployData
from sentinel.ops import ports
from sentinel.ops.context import Context

IMPORT_PATH = "sentinel.ml.serve:app"


def app_for(ctx: Context, version: str, *, endpoint_url: str | None) -> ports.ServeApp:
    args: dict[str, Any] = {"registry": ctx.cfg.ml.storage, "version": version}
    if endpoint_url and ctx.cfg.ml.storage.startswith("s3://"):
        args["endpoint_url"] = endpoint_url
    return ports.ServeApp(name=ctx.cfg.ml.serve_app, import_path=IMPORT_PATH, args=args)


def run(ctx: Context, data: DeployData) -> Mapping[str, Any]:
    ctx.cfg.cluster(data.cluster)
    if ctx.connect is None:
        raise PermanentError("no cloud adapters are wired into this worker")
    ad = ctx.connect(data.cluster)
    serving: ports.Serving | None = ad.serving
    registry: ports.ModelRegistry | None = ad.registry
    if serving is None or registry is None:
        raise PermanentError(f"cluster {data.cluster}: no Serve target or model registry configured")
    version = data.model_version or registry.current()
    if not version:
        raise PermanentError("no model version to deploy: the registry has no current version")
    if registry.card(version) is None:
        raise PermanentError(f"model version {version!r} is not registered under {ctx.cfg.ml.storage}")
    endpoint = ctx.env.get("AWS_ENDPOINT_URL_S3") or ctx.env.get("AWS_ENDPOINT_URL")
    app = app_for(ctx, version, endpoint_url=endpoint)
    before = serving.deployed_args(app.name) or {}
    previous = before.get("version") or registry.current()
    timeout = ctx.cfg.ml.deploy_timeout
    if before.get("version") != version:
        serving.deploy(app)
        ctx.note("step", step="serve_deploy", target=app.name, current=previous, desired=version)
    status = serving.wait_running(app, timeout=timeout)
    problem = "" if status == "RUNNING" else f"Serve app {app.name} is {status}"
    if not problem:
        problem = serving.smoke(ctx.cfg.ml.smoke_body, expect_version=version, timeout=min(60.0, timeout))
    if problem:
        if previous and previous != version:
            back = app_for(ctx, str(previous), endpoint_url=endpoint)
            serving.deploy(back)
            back_status = serving.wait_running(back, timeout=timeout)
            ctx.note("rolled_back", version=version, to=previous, reason=problem, status=back_status)
            raise PermanentError(f"deploy of {version} failed ({problem}); rolled back to {previous} ({back_status})")
        raise PermanentError(f"deploy of {version} failed ({problem}); nothing to roll back to")
    registry.set_current(version)
    ctx.note("deployed", cluster=data.cluster, version=version, previous=previous)
    return {"cluster": data.cluster, "version": version, "previous": previous}

"""Ray Serve, two ways: the Serve REST API on a plain Ray head (``PUT /api/serve/applications/``), or a KubeRay
``RayService`` whose ``serveConfigV2`` is patched. Plus the smoke request to ``/recommend``.
"""

from __future__ import annotations

import time
from typing import Any

import httpx
import yaml

from sentinel.errors import PermanentError, TransientError, shorten
from sentinel.ops import ports

APPS = "/api/serve/applications/"


def _http(e: Exception, what: str) -> Exception:
    if isinstance(e, httpx.HTTPStatusError):
        code = e.response.status_code
        body = shorten(e.response.text)
        if code in (408, 409, 425, 429) or code >= 500:
            return TransientError(f"{what}: HTTP {code}: {body}")
        return PermanentError(f"{what}: HTTP {code}: {body}")
    return TransientError(f"{what}: {shorten(e)}")


class ServeRest:
    """Implements :class:`sentinel.ops.ports.Serving` against a Ray dashboard (``http://head:8265``)."""

    def __init__(self, dashboard: str, *, serve_url: str, timeout: float = 30.0) -> None:
        self.dashboard = dashboard.rstrip("/")
        self.serve_url = serve_url
        self.timeout = timeout

    def smoke(self, body: dict[str, Any], *, expect_version: str, timeout: float) -> str:
        return smoke(self.serve_url, body=body, expect_version=expect_version, timeout=timeout)

    def _req(self, method: str, path: str, **kw: Any) -> httpx.Response:
        try:
            r = httpx.request(method, self.dashboard + path, timeout=self.timeout, **kw)
            r.raise_for_status()
            return r
        except httpx.HTTPError as e:
            raise _http(e, f"Serve API {method} {path}") from e

    def applications(self) -> dict[str, Any]:
        return dict(self._req("GET", APPS).json().get("applications") or {})

    def deployed_args(self, app: str) -> dict[str, Any] | None:
        info = self.applications().get(app)
        if not info:
            return None
        cfg = info.get("deployed_app_config") or {}
        return dict(cfg.get("args") or {})

    def deploy(self, app: ports.ServeApp) -> None:
        # The REST API is declarative: the PUT replaces every application, so keep the others as they are.
        others = []
        for name, info in self.applications().items():
            if name != app.name and info.get("deployed_app_config"):
                others.append(info["deployed_app_config"])
        body: dict[str, Any] = {"applications": [*others, app.config()]}
        current = self._req("GET", APPS).json()
        for key in ("proxy_location", "http_options"):  # keep the running proxy's settings
            if current.get(key):
                body[key] = {k: v for k, v in current[key].items() if v is not None} if isinstance(
                    current[key], dict) else current[key]
        self._req("PUT", APPS, json=body)

    def wait_running(self, app: ports.ServeApp, *, timeout: float) -> str:
        """``RUNNING`` once the app runs with these args; the last status seen otherwise."""
        deadline = time.monotonic() + timeout
        status = "UNKNOWN"
        while time.monotonic() < deadline:
            info = self.applications().get(app.name) or {}
            status = str(info.get("status", "NOT_STARTED"))
            args = (info.get("deployed_app_config") or {}).get("args") or {}
            if status == "RUNNING" and args.get("version") == app.args.get("version"):
                return status
            if status == "DEPLOY_FAILED" and args.get("version") == app.args.get("version"):
                return f"{status}: {shorten(info.get('message', ''))}"
            time.sleep(1.0)
        return status


class RayServiceSpec:
    """Implements :class:`sentinel.ops.ports.Serving` by patching a KubeRay RayService's ``serveConfigV2``."""

    def __init__(self, kube: ports.Kube, *, namespace: str, name: str, serve_url: str) -> None:
        self.kube, self.namespace, self.name = kube, namespace, name
        self.serve_url = serve_url

    def smoke(self, body: dict[str, Any], *, expect_version: str, timeout: float) -> str:
        return smoke(self.serve_url, body=body, expect_version=expect_version, timeout=timeout)

    def _obj(self) -> dict[str, Any]:
        obj = self.kube.custom_object("RayService", self.namespace, self.name)
        if obj is None:
            raise PermanentError(f"RayService {self.namespace}/{self.name} not found")
        return obj

    def _apps(self, obj: dict[str, Any]) -> list[dict[str, Any]]:
        raw = (obj.get("spec") or {}).get("serveConfigV2") or ""
        doc = yaml.safe_load(raw) if raw else {}
        return list((doc or {}).get("applications") or [])

    def deployed_args(self, app: str) -> dict[str, Any] | None:
        for a in self._apps(self._obj()):
            if a.get("name") == app:
                return dict(a.get("args") or {})
        return None

    def deploy(self, app: ports.ServeApp) -> None:
        obj = self._obj()
        apps = [a for a in self._apps(obj) if a.get("name") != app.name] + [app.config()]
        text = yaml.safe_dump({"applications": apps}, sort_keys=False)
        self.kube.patch_custom_object("RayService", self.namespace, self.name, {"spec": {"serveConfigV2": text}})

    def wait_running(self, app: ports.ServeApp, *, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        status = "UNKNOWN"
        while time.monotonic() < deadline:
            st = (self._obj().get("status") or {})
            active = (st.get("activeServiceStatus") or {}).get("applicationStatuses") or {}
            status = str((active.get(app.name) or {}).get("status", st.get("serviceStatus", "UNKNOWN")))
            if status in ("RUNNING", "HEALTHY") and self.deployed_args(app.name) == app.args:
                return "RUNNING"
            time.sleep(2.0)
        return status


def smoke(serve_url: str, *, body: dict[str, Any], expect_version: str, timeout: float = 30.0) -> str:
    """POST /recommend; ``""`` when it answers 200 with the expected model version, else what went wrong."""
    deadline = time.monotonic() + timeout
    problem = "no answer"
    while time.monotonic() < deadline:
        try:
            r = httpx.post(serve_url.rstrip("/") + "/recommend", json=body, timeout=10)
            if r.status_code == 200 and r.json().get("model_version") == expect_version:
                return ""
            problem = f"HTTP {r.status_code}: {shorten(r.text, 200)}"
        except (httpx.HTTPError, ValueError) as e:
            problem = shorten(e, 200)
        time.sleep(1.0)
    return problem

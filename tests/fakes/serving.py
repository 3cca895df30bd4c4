"""In-memory Serve target and model registry, for the retrain / deploy playbooks' unit tests."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sentinel.errors import PermanentError
from sentinel.ops import ports


@dataclass
class FakeServing:
    """Implements :class:`sentinel.ops.ports.Serving`; ``broken`` versions fail their smoke request."""

    apps: dict[str, dict[str, Any]] = field(default_factory=dict)
    deploys: list[str] = field(default_factory=list)
    broken: set[str] = field(default_factory=set)

    def deployed_args(self, app: str) -> dict[str, Any] | None:
        return dict(self.apps[app]) if app in self.apps else None

    def deploy(self, app: ports.ServeApp) -> None:
        self.apps[app.name] = dict(app.args)
        self.deploys.append(str(app.args["version"]))

    def wait_running(self, app: ports.ServeApp, *, timeout: float) -> str:
        return "RUNNING" if self.apps.get(app.name) == app.args else "DEPLOYING"

    def smoke(self, body: dict[str, Any], *, expect_version: str, timeout: float) -> str:
        served = next(iter(self.apps.values()), {}).get("version")
        if served in self.broken:
            return "HTTP 500: model failed to load"
        return "" if served == expect_version else f"served {served}"


@dataclass
class FakeRegistry:
    """Implements :class:`sentinel.ops.ports.ModelRegistry`."""

    cards: dict[str, dict[str, Any]] = field(default_factory=dict)
    history: list[str] = field(default_factory=list)

    def register(self, version: str, **card: Any) -> None:
        self.cards[version] = {"version": version, **card}

    def card(self, version: str) -> dict[str, Any] | None:
        return self.cards.get(version)

    def current(self) -> str | None:
        return self.history[-1] if self.history else None

    def previous(self) -> str | None:
        return self.history[-2] if len(self.history) >= 2 else None

    def set_current(self, version: str) -> None:
        if version not in self.cards:
            raise PermanentError(f"model version {version!r} is not registered")
        if self.current() != version:
            self.history.append(version)

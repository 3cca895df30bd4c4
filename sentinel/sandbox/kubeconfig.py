"""The generated kubeconfig and the ``KEY=value`` env file a shell can ``source``."""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from pathlib import Path

import yaml


def render(server: str, *, name: str, namespace: str = "default") -> str:
    """A kubeconfig whose one context (named like ``aws eks update-kubeconfig`` names it) reaches ``server``."""
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "preferences": {},
        "clusters": [{"name": name, "cluster": {"server": server}}],
        "users": [{"name": name, "user": {"token": "sentinel-sandbox"}}],
        "contexts": [{"name": name, "context": {"cluster": name, "user": name, "namespace": namespace}}],
        "current-context": name,
    }
    return yaml.safe_dump(doc, sort_keys=False)


def env_lines(env: Mapping[str, str]) -> str:
    return "".join(f"{k}={shlex.quote(v)}\n" for k, v in env.items())


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text)
    tmp.replace(path)
    return path

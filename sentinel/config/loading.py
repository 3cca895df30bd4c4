"""Loading ``sentinel.yaml``: file → mapping → ``SENTINEL_*`` overrides → validated ``Config``, or one
``ConfigError`` whose lines name the file and the field."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from sentinel.config.embedded import EMBEDDED
from sentinel.config.models import Config, _LocatedError
from sentinel.errors import ConfigError

DEFAULT_PATH = "sentinel.yaml"
ENV_CONFIG = "SENTINEL_CONFIG"


class Secrets(BaseSettings):
    """Secrets and per-machine overrides, from ``SENTINEL_*`` environment variables only."""

    model_config = SettingsConfigDict(env_prefix="SENTINEL_", extra="ignore")

    redis_url: str | None = None
    slack_signing_secret: SecretStr | None = None
    api_token: SecretStr | None = None
    """Bearer token for ``POST /events`` and ``POST /deploy``."""


ENV_OVERRIDES = ("redis_url", "dedup_ttl", "audit_maxlen", "dlq_maxlen", "task_time_limit", "visibility_timeout")
"""Top-level settings that a ``SENTINEL_<NAME>`` environment variable overrides (e.g. ``SENTINEL_REDIS_URL``)."""

SECRET_KEYS = {"slack_signing_secret", "signing_secret", "api_token", "token", "password"}


def _find_secrets(data: object, path: tuple[str | int, ...] = ()) -> tuple[str | int, ...] | None:
    if isinstance(data, Mapping):
        for k, v in data.items():
            if str(k) in SECRET_KEYS:
                return (*path, str(k))
            found = _find_secrets(v, (*path, str(k)))
            if found:
                return found
    elif isinstance(data, list):
        for i, v in enumerate(data):
            found = _find_secrets(v, (*path, i))
            if found:
                return found
    return None


def _fmt_loc(loc: tuple[str | int, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _clean_msg(msg: str) -> str:
    for prefix in ("Value error, ", "Assertion failed, "):
        if msg.startswith(prefix):
            return msg[len(prefix) :]
    return msg


def from_mapping(
    data: Mapping[str, Any], *, source: str = DEFAULT_PATH, env: Mapping[str, str] | None = None
) -> Config:
    """Validate a parsed document; env (default ``os.environ``) supplies ``SENTINEL_*`` overrides."""
    env = os.environ if env is None else env
    secret = _find_secrets(data)
    if secret:
        raise ConfigError(
            f"{source}: {_fmt_loc(secret)}: secrets are not read from the file; "
            "set SENTINEL_SLACK_SIGNING_SECRET / SENTINEL_API_TOKEN in the environment"
        )
    merged = dict(data)
    for name in ENV_OVERRIDES:
        value = env.get(f"SENTINEL_{name.upper()}")
        if value:
            merged[name] = value
    try:
        return Config.model_validate(merged)
    except ValidationError as e:
        lines = []
        for err in e.errors():
            ctx_err = (err.get("ctx") or {}).get("error")
            if isinstance(ctx_err, _LocatedError):
                loc, msg = ctx_err.loc, str(ctx_err)
            else:
                loc, msg = tuple(err["loc"]), _clean_msg(err["msg"])
            lines.append(f"{source}: {_fmt_loc(loc)}: {msg}" if loc else f"{source}: {msg}")
        raise ConfigError("\n".join(lines)) from None


def resolve_path(path: str | os.PathLike[str] | None = None, *, env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    return Path(path or env.get(ENV_CONFIG) or DEFAULT_PATH)


def load(path: str | os.PathLike[str] | None = None, *, env: Mapping[str, str] | None = None) -> Config:
    """Read and validate ``sentinel.yaml`` (``--config``, else ``$SENTINEL_CONFIG``, else ``./sentinel.yaml``).

    A missing default file means the embedded default (:data:`EMBEDDED`); a missing named file is an error.
    """
    env = os.environ if env is None else env
    p = resolve_path(path, env=env)
    named = bool(path or env.get(ENV_CONFIG))
    if not p.exists():
        if named:
            raise ConfigError(f"{p}: no such file")
        return from_mapping(yaml.safe_load(EMBEDDED), source="<embedded default>", env=env)
    try:
        data = yaml.safe_load(p.read_text()) or {}
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        raise ConfigError(f"{p}: not valid YAML{where}: {getattr(e, 'problem', e)}") from None
    if not isinstance(data, Mapping):
        raise ConfigError(f"{p}: the top level must be a mapping, not {type(data).__name__}")
    return from_mapping(data, source=str(p), env=env)


def secrets(env: Mapping[str, str] | None = None) -> Secrets:
    if env is None:
        return Secrets()
    return Secrets.model_validate(
        {k[len("SENTINEL_") :].lower(): v for k, v in env.items() if k.startswith("SENTINEL_")}
    )


def summary(cfg: Config) -> str:
    parts = [f"{len(cfg.clusters)} cluster(s)"]
    for name, c in cfg.clusters.items():
        ngs = ", ".join(f"{n} {g.awake.min}/{g.awake.desired}/{g.awake.max}" for n, g in c.nodegroups.items())
        parts.append(f"  {name}: EKS {c.eks_cluster} ({c.region}); node groups {ngs}")
    parts.append(f"{len(cfg.schedules)} schedule(s), {len(cfg.triggers)} trigger(s)")
    return "\n".join(parts)

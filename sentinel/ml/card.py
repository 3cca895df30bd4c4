"""The model card: what a version was trained on, how, and how well — a plain JSON document."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
from typing import Any

from sentinel.ml import data as data_mod


def git_sha(env: dict[str, str] | None = None, *, cwd: str | None = None) -> str | None:
    """``SENTINEL_GIT_SHA`` if set (a Ray Job's runtime_env can pass it), else ``git rev-parse HEAD``."""
    env = dict(os.environ) if env is None else env
    if env.get("SENTINEL_GIT_SHA"):
        return env["SENTINEL_GIT_SHA"]
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, timeout=5, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    sha = out.stdout.strip()
    return sha if out.returncode == 0 and len(sha) >= 7 else None


def data_summary(split: data_mod.Split, *, sources: tuple[str, ...]) -> dict[str, Any]:
    return {
        "keys": list(sources),
        "rows": len(split.train) + len(split.val),
        "train_rows": len(split.train),
        "val_rows": len(split.val),
        "users": split.train.n_users,
        "items": split.train.n_items,
    }


def model_card(
    version: str,
    data: dict[str, Any],
    *,
    epochs: int,
    rmse: float,
    rmse_history: list[float],
    config: dict[str, Any],
    trainer: str,
    git: str | None,
    now: dt.datetime,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    card: dict[str, Any] = {
        "version": version,
        "created_at": now.astimezone(dt.UTC).isoformat(timespec="seconds"),
        "model": "matrix-factorisation (embeddings + biases + global mean)",
        "data": data,
        "epochs": epochs,
        "rmse": rmse,
        "rmse_history": rmse_history,
        "metric": "validation RMSE",
        "config": config,
        "trainer": trainer,
        "git_sha": git,
    }
    if extra:
        card.update(extra)
    return card

"""Retrain pipeline, the entrypoint a Ray Job runs: train (Ray Train) → tune (ASHA) → best → register.

    python -m sentinel.ml.pipeline --data s3://bucket/ratings/a.csv [s3://… more] \
        --storage s3://bucket/models --version v20250101-1 \
        [--tune-trials 8] [--epochs 5] [--workers 2] [--max-epochs 32] \
        [--endpoint-url http://127.0.0.1:5000] [--promote] [--address ADDR] [--synthetic]

Stable CLI (ops submits it with ``JobSubmissionClient.submit_job(entrypoint=…)``):

* ``--data``: one or more ratings files (local or ``s3://``; MovieLens ``ratings.csv`` / ``u.data``,
  CSV or Parquet). ``--synthetic`` instead uses the built-in generator (demo, tests).
* ``--storage``: the registry root (see ``sentinel.ml.registry``); Ray run dirs go to ``<storage>/runs/``.
* ``--version``: the id to register; if it is already registered nothing is retrained and the
  existing card is reported (``"already_registered": true``) — a retried job is harmless.
* ``--tune-trials 0`` skips tuning. ``--promote`` also moves the registry's ``current`` pointer
  (default: leave promotion to whoever deploys).
* S3 endpoint: ``--endpoint-url``, else ``AWS_ENDPOINT_URL_S3`` / ``AWS_ENDPOINT_URL``.

Output: everything Ray and the libraries print goes to stderr; stdout gets exactly one line,
a JSON object with ``"kind": "sentinel.ml.pipeline"`` and ``version, rmse, compute_saved_pct,
trials, epochs_run, budget, chosen, train_rmse, tune_rmse, best_config, model_uri, card_uri,
registry, current, already_registered``. Exit code 0 on success, 2 on bad input data, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import traceback
from typing import Any

from sentinel.ml import data as data_mod
from sentinel.ml import registry as registry_mod
from sentinel.ml import runtime
from sentinel.ml import train as train_mod
from sentinel.ml import tune as tune_mod

KIND = "sentinel.ml.pipeline"


def summary_of(entry: registry_mod.ModelVersion, *, root: str, current: bool, already: bool) -> dict[str, Any]:
    card = entry.card
    pipe = card.get("pipeline", {})
    tuning = pipe.get("tuning") or {}
    return {
        "kind": KIND,
        "version": entry.version,
        "rmse": card.get("rmse"),
        "compute_saved_pct": tuning.get("compute_saved_pct", 0.0),
        "trials": tuning.get("trials", 0),
        "epochs_run": tuning.get("epochs_run", 0),
        "budget": tuning.get("budget", 0),
        "chosen": pipe.get("chosen"),
        "train_rmse": pipe.get("train_rmse"),
        "tune_rmse": pipe.get("tune_rmse"),
        "best_config": card.get("config"),
        "model_uri": entry.model_uri,
        "card_uri": entry.card_uri,
        "registry": root,
        "current": current,
        "already_registered": already,
    }


def run_pipeline(args: argparse.Namespace) -> dict[str, Any]:
    reg = registry_mod.Registry(args.storage, endpoint_url=args.endpoint_url)
    registry_mod.check_version(args.version)
    try:
        existing = reg.get(args.version)
    except registry_mod.VersionNotFound:
        existing = None
    if existing is not None:
        cur = reg.current()
        return summary_of(existing, root=reg.root.uri, current=bool(cur and cur.version == args.version), already=True)

    runtime.ensure_ray(args.address)
    split, sources = train_mod.load_split(args)
    trained = train_mod.run_training(
        split,
        storage_uri=args.storage,
        version=args.version,
        sources=sources,
        num_workers=args.workers,
        hyper=train_mod.Hyper(epochs=args.epochs),
        endpoint_url=args.endpoint_url,
    )
    chosen, model_bytes, card = "train", trained.model_bytes, dict(trained.card)
    tuned = None
    if args.tune_trials > 0:
        tuned = tune_mod.run_tuning(
            split,
            storage_uri=args.storage,
            version=args.version,
            sources=sources,
            search=tune_mod.Search(trials=args.tune_trials, max_epochs=args.max_epochs),
            endpoint_url=args.endpoint_url,
        )
        if tuned.best_rmse < trained.rmse:
            chosen, model_bytes, card = "tune", tuned.model_bytes, dict(tuned.card)
    card["pipeline"] = {
        "chosen": chosen,
        "train_rmse": trained.rmse,
        "train_checkpoint": trained.checkpoint_uri,
        "tune_rmse": None if tuned is None else tuned.best_rmse,
        "tuning": None if tuned is None else tune_mod.summary(tuned),
    }
    entry = reg.register(args.version, model_bytes, card=card, make_current=args.promote)
    return summary_of(entry, root=reg.root.uri, current=args.promote, already=False)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m sentinel.ml.pipeline", description=__doc__.splitlines()[0])
    train_mod.add_data_args(p)
    p.add_argument("--storage", required=True, help="registry root: local dir or s3://bucket/prefix")
    p.add_argument("--version", required=True, help="version id to register (letters, digits, . _ -)")
    p.add_argument("--tune-trials", type=int, default=8, help="ASHA trials (0: skip tuning)")
    p.add_argument("--max-epochs", type=int, default=tune_mod.Search.max_epochs, help="per-trial epoch budget")
    p.add_argument("--epochs", type=int, default=train_mod.Hyper.epochs, help="Ray Train epochs")
    p.add_argument("--workers", type=int, default=2, help="Ray Train workers (1 CPU each)")
    p.add_argument("--promote", action="store_true", help="also set the registry's current pointer")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if not args.data and not args.synthetic:
        parser().error("give --data FILE… or --synthetic")
    code, out = 0, {}
    with runtime.stdout_to_stderr():
        try:
            out = run_pipeline(args)
        except (data_mod.DataError, registry_mod.InvalidVersion) as e:
            traceback.print_exc()
            code, out = 2, {"kind": KIND, "version": args.version, "error": str(e)[:500]}
        except Exception as e:
            traceback.print_exc()
            code, out = 1, {"kind": KIND, "version": args.version, "error": f"{type(e).__name__}: {str(e)[:500]}"}
    print(json.dumps(out), flush=True)
    return code


if __name__ == "__main__":
    raise SystemExit(main())

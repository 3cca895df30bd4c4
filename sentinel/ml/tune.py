"""Hyper-parameter search with Ray Tune: ASHA early stopping over lr / embedding dim / weight decay.

    python -m sentinel.ml.tune [--data … | --synthetic] --storage DIR_OR_S3 [--trials 16] \
        [--max-epochs 32] [--grace 2] [--reduction 4] [--baseline asha|fifo] [--address ADDR]

prints one JSON line: trials, epochs_run, budget (trials × max epochs), compute_saved_pct,
best_config, best_rmse. ``--baseline fifo`` runs the same sampled configs with no early stopping.
Importable: ``run_tuning(split, storage_uri=…, …) -> TuneResult``; the best trial's checkpoint
(``model_bytes``) is the candidate model.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import os
import posixpath
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from typing import Any

from ray import tune
from ray.tune.schedulers import ASHAScheduler, FIFOScheduler
from ray.tune.search.basic_variant import BasicVariantGenerator

from sentinel.ml import card as card_mod
from sentinel.ml import data as data_mod
from sentinel.ml import fitting, model, runtime, storage
from sentinel.ml import train as train_mod


@dataclass(frozen=True)
class Search:
    trials: int = 16
    max_epochs: int = 32
    grace_period: int = 2  # epoch 1 mostly ranks learning rates, not final quality
    reduction_factor: float = 4.0  # rungs at 2, 8, 32 epochs
    lr: tuple[float, float] = (3e-3, 1e-1)  # log-uniform
    dims: tuple[int, ...] = (8, 16, 32)
    weight_decay: tuple[float, float] = (1e-2, 1e-1)  # log-uniform; L2 on touched embedding rows
    lr_decay: float = 0.8
    batch_size: int = 512
    max_concurrent: int = 2
    seed: int = 7


@dataclass(frozen=True)
class Trial:
    config: dict[str, Any]
    epochs: int
    rmse: float


@dataclass(frozen=True)
class TuneResult:
    scheduler: str
    trials: int
    epochs_run: int
    budget: int
    compute_saved_pct: float
    best_config: dict[str, Any]
    best_rmse: float
    best_epochs: int
    model_bytes: bytes
    card: dict[str, Any]
    wall_s: float
    per_trial: tuple[Trial, ...]


def compute_saved_pct(epochs_run: int, budget: int) -> float:
    return 100.0 * (1.0 - epochs_run / budget) if budget else 0.0


def grace(search: Search) -> int:
    return max(1, min(search.grace_period, search.max_epochs))


def milestones(search: Search, scheduler: str) -> list[int]:
    """Epochs after which a trial may be stopped (ASHA rungs) plus the last: the only ones worth a checkpoint."""
    out = {search.max_epochs}
    if scheduler == "asha":
        t = float(grace(search))
        while t < search.max_epochs:
            out.add(int(t))
            t *= search.reduction_factor
    return sorted(out)


def param_space(search: Search, scheduler: str = "asha") -> dict[str, Any]:
    return {
        "lr": tune.loguniform(*search.lr),
        "dim": tune.choice(list(search.dims)),
        "weight_decay": tune.loguniform(*search.weight_decay),
        "batch_size": search.batch_size,
        "lr_decay": search.lr_decay,
        "max_epochs": search.max_epochs,
        "checkpoint_at": milestones(search, scheduler),
    }


def objective(
    mf: Any, opt: Any, shards: tuple[fitting.Shard, fitting.Shard], config: dict[str, Any], *, epoch: int
) -> float:
    """The pure part of a trial: one epoch of training, then validation RMSE."""
    train_shard, val_shard = shards
    fitting.set_epoch_lr(opt, lr=float(config["lr"]), decay=float(config["lr_decay"]), epoch=epoch)
    order = fitting.epoch_order(len(train_shard), epoch=epoch, seed=0)
    fitting.train_epoch(
        mf,
        opt,
        train_shard,
        order=order,
        batch_size=int(config["batch_size"]),
        weight_decay=float(config["weight_decay"]),
    )
    return fitting.rmse(*fitting.squared_error(mf, val_shard))


def trainable(config: dict[str, Any], split: data_mod.Split) -> None:
    """One trial: 1 CPU, 1 thread; reports RMSE each epoch, with a checkpoint at each rung ASHA may stop it at."""
    model.set_threads(1)
    mf = model.build(split.train, dim=int(config["dim"]))
    opt = fitting.optimizer(mf, lr=float(config["lr"]))
    shards = (fitting.to_shard(split.train), fitting.to_shard(split.val))
    for epoch in range(int(config["max_epochs"])):
        rmse = objective(mf, opt, shards, config, epoch=epoch)
        if epoch + 1 not in config["checkpoint_at"]:
            tune.report({"rmse": rmse, "epoch": epoch + 1})
            continue
        with tempfile.TemporaryDirectory() as tmp:
            model.save(model.bundle(mf, split.train), os.path.join(tmp, train_mod.MODEL_FILE))
            tune.report({"rmse": rmse, "epoch": epoch + 1}, checkpoint=tune.Checkpoint.from_directory(tmp))


def scheduler_for(kind: str, search: Search) -> Any:
    if kind == "fifo":
        return FIFOScheduler()
    return ASHAScheduler(
        time_attr="training_iteration",
        max_t=search.max_epochs,
        grace_period=grace(search),
        reduction_factor=search.reduction_factor,
    )


def run_tuning(
    split: data_mod.Split,
    *,
    storage_uri: str,
    version: str = "candidate",
    sources: tuple[str, ...] = (),
    search: Search = Search(),
    scheduler: str = "asha",
    endpoint_url: str | None = None,
    address: str | None = None,
) -> TuneResult:
    """Run ``search.trials`` trials (same sampled configs for ``asha`` and ``fifo``) and pick the best."""
    runtime.ensure_ray(address)
    loc = storage.resolve(posixpath.join(storage_uri, "runs"), endpoint_url=endpoint_url)
    if not storage.is_s3(storage_uri):
        os.makedirs(loc.path, exist_ok=True)
    run_config = tune.RunConfig(
        name=f"tune-{scheduler}-{version}-{uuid.uuid4().hex[:6]}",
        storage_path=loc.path,
        storage_filesystem=loc.fs if storage.is_s3(storage_uri) else None,
        checkpoint_config=tune.CheckpointConfig(num_to_keep=1),
        verbose=0,
    )
    tuner = tune.Tuner(
        tune.with_resources(tune.with_parameters(trainable, split=split), {"cpu": 1}),
        param_space=param_space(search, scheduler),
        tune_config=tune.TuneConfig(
            metric="rmse",
            mode="min",
            num_samples=search.trials,
            scheduler=scheduler_for(scheduler, search),
            search_alg=BasicVariantGenerator(random_state=search.seed),
            max_concurrent_trials=search.max_concurrent,
            reuse_actors=True,
        ),
        run_config=run_config,
    )
    t0 = time.monotonic()
    grid = tuner.fit()
    wall = time.monotonic() - t0
    per_trial = tuple(
        Trial(
            config={k: (r.config or {}).get(k) for k in ("lr", "dim", "weight_decay")},
            epochs=int(r.metrics.get("training_iteration", 0)),
            rmse=float(r.metrics.get("rmse", float("nan"))),
        )
        for r in (grid[i] for i in range(len(grid)))
        if r.metrics
    )
    if grid.num_errors or not per_trial:
        raise RuntimeError(f"{grid.num_errors} of {len(grid)} trials failed: {[str(e)[:200] for e in grid.errors]}")
    best = grid.get_best_result(metric="rmse", mode="min", scope="last")
    if best.checkpoint is None or best.config is None or best.metrics is None:
        raise RuntimeError("best trial has no checkpoint")
    with best.checkpoint.as_directory() as d, open(os.path.join(d, train_mod.MODEL_FILE), "rb") as f:
        model_bytes = f.read()
    epochs_run = sum(t.epochs for t in per_trial)
    budget = search.trials * search.max_epochs
    best_config = {k: best.config[k] for k in ("lr", "dim", "weight_decay", "lr_decay", "batch_size")}
    best_rmse = float(best.metrics["rmse"])
    best_epochs = int(best.metrics["training_iteration"])
    history = [float(x) for x in best.metrics_dataframe["rmse"].tolist()] if best.metrics_dataframe is not None else []
    tuning = {
        "trials": search.trials,
        "epochs_run": epochs_run,
        "budget": budget,
        "compute_saved_pct": round(compute_saved_pct(epochs_run, budget), 2),
        "search": dataclasses.asdict(search),
    }
    card = card_mod.model_card(
        version,
        card_mod.data_summary(split, sources=sources),
        epochs=best_epochs,
        rmse=best_rmse,
        rmse_history=history,
        config={**best_config, "num_workers": 1},
        trainer=f"ray.tune.Tuner+{scheduler.upper()}",
        git=card_mod.git_sha(),
        now=dt.datetime.now(dt.UTC),
        extra={"tuning": tuning},
    )
    return TuneResult(
        scheduler=scheduler,
        trials=len(per_trial),
        epochs_run=epochs_run,
        budget=budget,
        compute_saved_pct=compute_saved_pct(epochs_run, budget),
        best_config=best_config,
        best_rmse=best_rmse,
        best_epochs=best_epochs,
        model_bytes=model_bytes,
        card=card,
        wall_s=wall,
        per_trial=per_trial,
    )


def summary(res: TuneResult) -> dict[str, Any]:
    return {
        "scheduler": res.scheduler,
        "trials": res.trials,
        "epochs_run": res.epochs_run,
        "budget": res.budget,
        "compute_saved_pct": round(res.compute_saved_pct, 2),
        "best_config": res.best_config,
        "best_rmse": round(res.best_rmse, 5),
        "wall_s": round(res.wall_s, 1),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m sentinel.ml.tune", description=__doc__.splitlines()[0])
    train_mod.add_data_args(p)
    p.add_argument("--storage", required=True)
    p.add_argument("--trials", type=int, default=Search.trials)
    p.add_argument("--max-epochs", type=int, default=Search.max_epochs)
    p.add_argument("--grace", type=int, default=Search.grace_period)
    p.add_argument("--reduction", type=float, default=Search.reduction_factor)
    p.add_argument("--baseline", choices=["asha", "fifo"], default="asha", help="fifo: no early stopping")
    args = p.parse_args(argv)
    split, sources = train_mod.load_split(args)
    search = Search(
        trials=args.trials, max_epochs=args.max_epochs, grace_period=args.grace, reduction_factor=args.reduction
    )
    with runtime.stdout_to_stderr():
        res = run_tuning(
            split,
            storage_uri=args.storage,
            sources=sources,
            search=search,
            scheduler=args.baseline,
            endpoint_url=args.endpoint_url,
            address=args.address,
        )
    print(json.dumps(summary(res)), file=sys.stdout, flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

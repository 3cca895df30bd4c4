"""Distributed training with Ray Train: ``TorchTrainer`` + DDP over N CPU workers.

    python -m sentinel.ml.train --data ratings.csv [more…] --storage DIR_OR_S3 --version v1 \
        [--workers 2] [--epochs 5] [--lr 0.02] [--dim 16] [--weight-decay 0] [--synthetic] \
        [--address ADDR] [--endpoint-url URL]

prints one JSON line: the model card (version, rmse, epochs, …) plus the checkpoint path.
Importable: ``run_training(split, storage=…, version=…, …) -> TrainResult``.
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

import ray
import ray.train
import ray.train.torch
import torch
import torch.distributed as dist

from sentinel.ml import card as card_mod
from sentinel.ml import data as data_mod
from sentinel.ml import fitting, model, runtime, storage

MODEL_FILE = "model.pt"
CARD_FILE = "model_card.json"


@dataclass(frozen=True)
class Hyper:
    lr: float = 0.05
    dim: int = 16
    weight_decay: float = 0.03  # L2 on the embedding rows a batch touches
    lr_decay: float = 0.8  # per epoch
    batch_size: int = 256
    epochs: int = 5
    seed: int = 0
    threads: int = 1


@dataclass(frozen=True)
class TrainResult:
    version: str
    rmse: float
    epochs: int
    rmse_history: tuple[float, ...]
    checkpoint_uri: str
    model_bytes: bytes
    card: dict[str, Any]
    samples_per_s: float  # training rows per second inside the loop, all workers together
    wall_s: float  # fit() end to end, worker start-up included


def train_func(config: dict[str, Any]) -> None:
    """Runs on every Ray Train worker: prepare the model, train on this rank's shard, report RMSE."""
    hp = Hyper(**config["hyper"])
    model.set_threads(hp.threads)
    split: data_mod.Split = ray.get(config["split_ref"])
    ctx = ray.train.get_context()
    rank, world = ctx.get_world_rank(), ctx.get_world_size()

    mf = model.build(split.train, dim=hp.dim, seed=hp.seed)
    ddp = ray.train.torch.prepare_model(mf)
    opt = fitting.optimizer(ddp, lr=hp.lr)
    train_shard = fitting.to_shard(split.train)
    val_rows = torch.arange(rank, len(split.val), world)
    val_full = fitting.to_shard(split.val)
    val_shard = fitting.Shard(val_full.users[val_rows], val_full.items[val_rows], val_full.ratings[val_rows])

    history: list[float] = []
    for epoch in range(hp.epochs):
        fitting.set_epoch_lr(opt, lr=hp.lr, decay=hp.lr_decay, epoch=epoch)
        order = fitting.epoch_order(len(train_shard), epoch=epoch, seed=hp.seed, rank=rank, world_size=world)
        t0 = time.perf_counter()
        loss = fitting.train_epoch(
            ddp, opt, train_shard, order=order, batch_size=hp.batch_size, weight_decay=hp.weight_decay
        )
        epoch_s = time.perf_counter() - t0
        sse, n = fitting.squared_error(model.unwrap(ddp), val_shard)
        totals = torch.tensor([sse, float(n)], dtype=torch.float64)
        if world > 1 and dist.is_initialized():
            dist.all_reduce(totals)
        rmse = fitting.rmse(float(totals[0]), int(totals[1]))
        history.append(rmse)
        metrics = {
            "epoch": epoch + 1,
            "rmse": rmse,
            "train_loss": loss,
            "rows_seen": len(order) * world,
            "epoch_s": epoch_s,
        }
        if rank == 0:
            card = card_mod.model_card(
                config["version"],
                config["data"],
                epochs=epoch + 1,
                rmse=rmse,
                rmse_history=list(history),
                config={**dataclasses.asdict(hp), "num_workers": world},
                trainer="ray.train.torch.TorchTrainer",
                git=config.get("git_sha"),
                now=dt.datetime.now(dt.UTC),
            )
            with tempfile.TemporaryDirectory() as tmp:
                model.save(model.bundle(ddp, split.train), os.path.join(tmp, MODEL_FILE))
                with open(os.path.join(tmp, CARD_FILE), "w") as f:
                    json.dump(card, f, indent=2)
                ray.train.report(metrics, checkpoint=ray.train.Checkpoint.from_directory(tmp))
        else:
            ray.train.report(metrics)


def run_config(storage_uri: str, *, name: str, endpoint_url: str | None = None) -> ray.train.RunConfig:
    """Local dir or ``s3://…`` (pyarrow S3FileSystem, endpoint overridable for moto/MinIO)."""
    loc = storage.resolve(storage_uri, endpoint_url=endpoint_url)
    if storage.is_s3(storage_uri):
        return ray.train.RunConfig(name=name, storage_path=loc.path, storage_filesystem=loc.fs)
    os.makedirs(loc.path, exist_ok=True)
    return ray.train.RunConfig(name=name, storage_path=loc.path)


def run_training(
    split: data_mod.Split,
    *,
    storage_uri: str,
    version: str,
    sources: tuple[str, ...] = (),
    num_workers: int = 2,
    hyper: Hyper = Hyper(),
    endpoint_url: str | None = None,
    address: str | None = None,
) -> TrainResult:
    """Train with Ray Train on an existing cluster; checkpoints land under ``storage_uri/runs/``."""
    runtime.ensure_ray(address)
    name = f"train-{version}-{uuid.uuid4().hex[:6]}"
    trainer = ray.train.torch.TorchTrainer(
        train_func,
        train_loop_config={
            "split_ref": ray.put(split),
            "hyper": dataclasses.asdict(hyper),
            "version": version,
            "data": card_mod.data_summary(split, sources=sources),
            "git_sha": card_mod.git_sha(),
        },
        scaling_config=ray.train.ScalingConfig(num_workers=num_workers, use_gpu=False),
        run_config=run_config(posixpath.join(storage_uri, "runs"), name=name, endpoint_url=endpoint_url),
    )
    t0 = time.monotonic()
    result = trainer.fit()
    wall = time.monotonic() - t0
    if result.error is not None or result.checkpoint is None:
        raise RuntimeError(f"training failed: {result.error}")
    ckpt = result.checkpoint
    fs = ckpt.filesystem
    with fs.open_input_stream(posixpath.join(ckpt.path, MODEL_FILE)) as f:
        model_bytes = bytes(f.read())
    with fs.open_input_stream(posixpath.join(ckpt.path, CARD_FILE)) as f:
        card = json.loads(f.read())
    history = tuple(float(x) for x in card["rmse_history"])
    ckpt_uri = f"s3://{ckpt.path}" if storage.is_s3(storage_uri) else ckpt.path
    frame = result.metrics_dataframe
    rows = float(frame["rows_seen"].sum()) if frame is not None else 0.0
    secs = float(frame["epoch_s"].sum()) if frame is not None else 0.0
    return TrainResult(
        version=version,
        rmse=float(card["rmse"]),
        epochs=int(card["epochs"]),
        rmse_history=history,
        checkpoint_uri=ckpt_uri,
        model_bytes=model_bytes,
        card=card,
        samples_per_s=rows / secs if secs else 0.0,
        wall_s=wall,
    )


# ---------------------------------------------------------------- CLI


def add_data_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", nargs="*", default=[], help="ratings files: local paths or s3:// URIs")
    p.add_argument("--synthetic", action="store_true", help="use the synthetic generator instead of --data")
    p.add_argument("--synthetic-users", type=int, default=300)
    p.add_argument("--synthetic-items", type=int, default=200)
    p.add_argument("--val-fraction", type=float, default=0.1)
    p.add_argument("--endpoint-url", default=None, help="S3 endpoint override (else AWS_ENDPOINT_URL)")
    p.add_argument("--address", default=None, help="Ray address (else RAY_ADDRESS, else auto)")


def load_split(args: argparse.Namespace) -> tuple[data_mod.Split, tuple[str, ...]]:
    if args.synthetic or not args.data:
        syn = data_mod.synthetic(args.synthetic_users, args.synthetic_items)
        ratings = syn.ratings
    else:
        ratings = data_mod.load_ratings(args.data, endpoint_url=args.endpoint_url)
    return data_mod.split(data_mod.encode(ratings), val_fraction=args.val_fraction), ratings.sources


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m sentinel.ml.train", description=__doc__.splitlines()[0])
    add_data_args(p)
    p.add_argument("--storage", required=True, help="local dir or s3://bucket/prefix for Ray Train runs")
    p.add_argument("--version", default=None)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--epochs", type=int, default=Hyper.epochs)
    p.add_argument("--lr", type=float, default=Hyper.lr)
    p.add_argument("--dim", type=int, default=Hyper.dim)
    p.add_argument("--weight-decay", type=float, default=Hyper.weight_decay)
    p.add_argument("--lr-decay", type=float, default=Hyper.lr_decay)
    p.add_argument("--batch-size", type=int, default=Hyper.batch_size)
    args = p.parse_args(argv)
    split, sources = load_split(args)
    hyper = Hyper(
        lr=args.lr,
        dim=args.dim,
        weight_decay=args.weight_decay,
        lr_decay=args.lr_decay,
        batch_size=args.batch_size,
        epochs=args.epochs,
    )
    with runtime.stdout_to_stderr():
        res = run_training(
            split,
            storage_uri=args.storage,
            version=args.version or dt.datetime.now(dt.UTC).strftime("v%Y%m%d%H%M%S"),
            sources=sources,
            num_workers=args.workers,
            hyper=hyper,
            endpoint_url=args.endpoint_url,
            address=args.address,
        )
    print(json.dumps({**res.card, "checkpoint_uri": res.checkpoint_uri}), file=sys.stdout, flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

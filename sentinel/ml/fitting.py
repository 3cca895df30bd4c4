"""The epoch loop, shared by Ray Train workers, Tune trials and the plain-PyTorch baseline."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from sentinel.ml import data as data_mod


@dataclass(frozen=True)
class Shard:
    users: torch.Tensor
    items: torch.Tensor
    ratings: torch.Tensor

    def __len__(self) -> int:
        return len(self.ratings)


def to_shard(encoded: data_mod.Encoded) -> Shard:
    # copies: arrays fetched from Ray's object store are read-only views
    return Shard(
        users=torch.tensor(encoded.users, dtype=torch.int64),
        items=torch.tensor(encoded.items, dtype=torch.int64),
        ratings=torch.tensor(encoded.ratings, dtype=torch.float32),
    )


def epoch_order(n: int, *, epoch: int, seed: int, rank: int = 0, world_size: int = 1) -> np.ndarray:
    """Rows this rank trains on this epoch: one shuffle every rank agrees on, dealt round-robin.

    Every rank gets exactly ``n // world_size`` rows, so all ranks run the same number of
    steps (DDP all-reduces once per step; an uneven count would hang the last step).
    """
    perm = np.random.default_rng([seed, epoch]).permutation(n)
    per = n // world_size
    return perm[rank::world_size][:per]


def train_epoch(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    shard: Shard,
    *,
    order: np.ndarray,
    batch_size: int,
    weight_decay: float = 0.0,
) -> float:
    """One pass over ``shard[order]``; returns the mean training MSE.

    ``weight_decay`` is the L2 penalty on the embedding rows each batch touches.
    """
    model.train()
    mf = unwrap_mf(model)
    idx = torch.from_numpy(order)
    total, steps = 0.0, 0
    for start in range(0, len(idx), batch_size):
        b = idx[start : start + batch_size]
        pred = model(shard.users[b], shard.items[b])
        mse = nn.functional.mse_loss(pred, shard.ratings[b])
        loss = mse + weight_decay * mf.penalty(shard.users[b], shard.items[b]) if weight_decay else mse
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        total += float(mse.detach())
        steps += 1
    return total / max(steps, 1)


@torch.no_grad()
def squared_error(model: nn.Module, shard: Shard, *, batch_size: int = 65536) -> tuple[float, int]:
    """Sum of squared errors and row count: add these across ranks, then take the root."""
    model.eval()
    sse = 0.0
    for start in range(0, len(shard), batch_size):
        sl = slice(start, start + batch_size)
        pred = model(shard.users[sl], shard.items[sl])
        sse += float(((pred - shard.ratings[sl]) ** 2).sum())
    return sse, len(shard)


def rmse(sse: float, n: int) -> float:
    return math.sqrt(sse / n) if n else float("nan")


def optimizer(model: nn.Module, *, lr: float) -> torch.optim.Optimizer:
    return torch.optim.Adam(model.parameters(), lr=lr)


def set_epoch_lr(opt: torch.optim.Optimizer, *, lr: float, decay: float, epoch: int) -> float:
    """Exponential decay per epoch: curves flatten instead of bouncing, so early rungs rank trials honestly."""
    value = lr * decay**epoch
    for group in opt.param_groups:
        group["lr"] = value
    return value


def unwrap_mf(model: nn.Module) -> Any:
    return getattr(model, "module", model)  # DDP keeps the module in .module

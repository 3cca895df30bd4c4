"""Matrix factorisation: user/item embeddings, user/item biases and a global mean.

``Bundle`` is what a checkpoint and the registry hold: the weights plus everything serving needs
(external id maps, item popularity for the fallback, the items each user has already rated).
It is saved with ``torch.save`` using only tensors and plain types, so ``weights_only=True`` loads it.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from sentinel.ml import data as data_mod

FORMAT = "sentinel.mf/1"


def set_threads(n: int | None = None) -> int:
    """Keep torch to 1-2 intra-op threads per worker: many workers share a small box."""
    if n is None:
        n = max(1, min(2, (os.cpu_count() or 1) // 2))
    torch.set_num_threads(n)
    return n


class MatrixFactorization(nn.Module):
    def __init__(self, n_users: int, n_items: int, dim: int, *, global_mean: float = 0.0, init_std: float = 0.1):
        super().__init__()
        self.n_users, self.n_items, self.dim = n_users, n_items, dim
        self.user_emb = nn.Embedding(n_users, dim)
        self.item_emb = nn.Embedding(n_items, dim)
        self.user_bias = nn.Embedding(n_users, 1)
        self.item_bias = nn.Embedding(n_items, 1)
        self.register_buffer("global_mean", torch.tensor(float(global_mean)))
        nn.init.normal_(self.user_emb.weight, 0.0, init_std)
        nn.init.normal_(self.item_emb.weight, 0.0, init_std)
        nn.init.zeros_(self.user_bias.weight)
        nn.init.zeros_(self.item_bias.weight)

    def forward(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        dot = (self.user_emb(users) * self.item_emb(items)).sum(-1)
        return self.global_mean + self.user_bias(users).squeeze(-1) + self.item_bias(items).squeeze(-1) + dot

    def penalty(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        """Per-row L2 of the embeddings a batch touches (classic MF weight decay: rare rows are not shrunk away)."""
        return (self.user_emb(users).pow(2).sum(-1) + self.item_emb(items).pow(2).sum(-1)).mean()


def build(train: data_mod.Encoded, *, dim: int, seed: int = 0) -> MatrixFactorization:
    torch.manual_seed(seed)
    return MatrixFactorization(train.n_users, train.n_items, dim, global_mean=float(np.mean(train.ratings)))


@dataclass(frozen=True)
class Bundle:
    state_dict: dict[str, torch.Tensor]
    dim: int
    user_ids: np.ndarray  # external id of user index i
    item_ids: np.ndarray  # external id of item index j
    popularity: np.ndarray  # ratings count per item index (training rows)
    seen_indptr: np.ndarray  # CSR: items rated by user i are seen_indices[indptr[i]:indptr[i+1]]
    seen_indices: np.ndarray


def unwrap(model: nn.Module) -> MatrixFactorization:
    inner = getattr(model, "module", model)  # DDP wraps the module
    assert isinstance(inner, MatrixFactorization)
    return inner


def bundle(model: nn.Module, train: data_mod.Encoded) -> Bundle:
    mf = unwrap(model)
    order = np.lexsort((train.items, train.users))
    users, items = train.users[order], train.items[order]
    indptr = np.zeros(train.n_users + 1, dtype=np.int64)
    np.add.at(indptr, users + 1, 1)
    return Bundle(
        state_dict={k: v.detach().cpu().clone() for k, v in mf.state_dict().items()},
        dim=mf.dim,
        user_ids=train.user_ids,
        item_ids=train.item_ids,
        popularity=np.bincount(train.items, minlength=train.n_items).astype(np.float32),
        seen_indptr=np.cumsum(indptr),
        seen_indices=items.astype(np.int64),
    )


def dumps(b: Bundle) -> bytes:
    buf = io.BytesIO()
    torch.save(
        {
            "format": FORMAT,
            "state_dict": b.state_dict,
            "dim": b.dim,
            "user_ids": torch.tensor(np.asarray(b.user_ids)),
            "item_ids": torch.tensor(np.asarray(b.item_ids)),
            "popularity": torch.tensor(np.asarray(b.popularity)),
            "seen_indptr": torch.tensor(np.asarray(b.seen_indptr)),
            "seen_indices": torch.tensor(np.asarray(b.seen_indices)),
        },
        buf,
    )
    return buf.getvalue()


def loads(raw: bytes) -> Bundle:
    obj = torch.load(io.BytesIO(raw), map_location="cpu", weights_only=True)
    if obj.get("format") != FORMAT:
        raise ValueError(f"not a {FORMAT} model file (format={obj.get('format')!r})")
    return Bundle(
        state_dict=obj["state_dict"],
        dim=int(obj["dim"]),
        user_ids=obj["user_ids"].numpy(),
        item_ids=obj["item_ids"].numpy(),
        popularity=obj["popularity"].numpy(),
        seen_indptr=obj["seen_indptr"].numpy(),
        seen_indices=obj["seen_indices"].numpy(),
    )


def save(b: Bundle, path: str | os.PathLike[str]) -> None:
    with open(path, "wb") as f:
        f.write(dumps(b))


def load(path: str | os.PathLike[str]) -> Bundle:
    with open(path, "rb") as f:
        return loads(f.read())


def restore(b: Bundle) -> MatrixFactorization:
    mf = MatrixFactorization(len(b.user_ids), len(b.item_ids), b.dim)
    mf.load_state_dict(b.state_dict)
    return mf

"""Pure scoring: a loaded model (numpy arrays) + a request → ranked movies. No Ray, no HTTP, no torch."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from sentinel.ml import model as model_mod


@dataclass(frozen=True)
class Weights:
    version: str
    global_mean: float
    user_emb: np.ndarray  # (n_users, dim) float32
    item_emb: np.ndarray  # (n_items, dim) float32
    user_bias: np.ndarray  # (n_users,)
    item_bias: np.ndarray  # (n_items,)
    item_ids: np.ndarray  # external movie id per item index
    user_index: dict[int, int]  # external user id → index
    item_index: dict[int, int]  # external movie id → index
    popularity: np.ndarray  # share of training ratings per item index
    seen_indptr: np.ndarray
    seen_indices: np.ndarray


@dataclass(frozen=True)
class Query:
    user_id: int
    movie_ids: tuple[int, ...] | None = None  # None: top-k over unseen movies
    k: int = 10


@dataclass(frozen=True)
class Scored:
    user_id: int
    model_version: str
    fallback: bool  # True: unknown user, ranked by popularity (score = share of ratings)
    items: tuple[tuple[int, float], ...]  # (movie_id, score), best first
    unknown_movie_ids: tuple[int, ...] = ()


def from_bundle(b: model_mod.Bundle, *, version: str) -> Weights:
    sd = b.state_dict
    pop = b.popularity.astype(np.float64)
    return Weights(
        version=version,
        global_mean=float(sd["global_mean"]),
        user_emb=sd["user_emb.weight"].numpy().astype(np.float32),
        item_emb=sd["item_emb.weight"].numpy().astype(np.float32),
        user_bias=sd["user_bias.weight"].numpy().reshape(-1).astype(np.float32),
        item_bias=sd["item_bias.weight"].numpy().reshape(-1).astype(np.float32),
        item_ids=np.asarray(b.item_ids, dtype=np.int64),
        user_index={int(u): i for i, u in enumerate(b.user_ids)},
        item_index={int(m): j for j, m in enumerate(b.item_ids)},
        popularity=(pop / pop.sum()) if pop.sum() else pop,
        seen_indptr=np.asarray(b.seen_indptr),
        seen_indices=np.asarray(b.seen_indices),
    )


def _ranked(ids: np.ndarray, scores: np.ndarray, k: int | None) -> tuple[tuple[int, float], ...]:
    top = np.argpartition(-scores, k - 1)[:k] if k is not None and 0 < k < len(scores) else np.arange(len(scores))
    if k == 0:
        top = top[:0]
    top = top[np.lexsort((ids[top], -scores[top]))]  # best first; ties by movie id, so answers are stable
    return tuple((int(ids[j]), round(float(scores[j]), 6)) for j in top)


def score_batch(w: Weights, queries: Sequence[Query]) -> list[Scored]:
    """Score many queries at once: one (known users × items) matrix product for the whole batch."""
    rows = [w.user_index.get(q.user_id) for q in queries]
    known = [r for r in rows if r is not None]
    matrix = None
    if known:
        u = np.asarray(known)
        matrix = w.user_emb[u] @ w.item_emb.T + w.user_bias[u][:, None] + w.item_bias[None, :] + w.global_mean
    out: list[Scored] = []
    position = 0
    for q, row in zip(queries, rows, strict=True):
        if row is not None and matrix is not None:
            scores = matrix[position]
            position += 1
        else:
            scores = w.popularity
        if q.movie_ids is not None:
            idx = [w.item_index.get(m) for m in q.movie_ids]
            unknown = tuple(m for m, j in zip(q.movie_ids, idx, strict=True) if j is None)
            cols = np.asarray([j for j in idx if j is not None], dtype=np.int64)
            items = _ranked(w.item_ids[cols], scores[cols], None)
        else:
            unknown = ()
            cand = np.ones(len(w.item_ids), dtype=bool)
            if row is not None:
                cand[w.seen_indices[w.seen_indptr[row] : w.seen_indptr[row + 1]]] = False
            cols = np.flatnonzero(cand)
            items = _ranked(w.item_ids[cols], scores[cols], max(0, q.k))
        out.append(Scored(q.user_id, w.version, row is None, items, unknown))
    return out


def score(w: Weights, query: Query) -> Scored:
    return score_batch(w, [query])[0]


def as_json(s: Scored) -> dict[str, object]:
    return {
        "user_id": s.user_id,
        "model_version": s.model_version,
        "fallback": s.fallback,
        "items": [{"movie_id": m, "score": v} for m, v in s.items],
        "unknown_movie_ids": list(s.unknown_movie_ids),
    }

"""Ratings: load MovieLens-shaped files (local or ``s3://``), map ids, split, or synthesise.

Layouts understood, CSV or Parquet, one or many files (a retrain event lists several):

* ``ratings.csv`` — header ``userId,movieId,rating,timestamp`` (ml-latest, ml-25m);
* ``u.data`` — tab-separated ``user item rating ts`` without a header (ml-100k);
* Parquet with ``userId/movieId/rating`` (or ``user/item/rating``) columns.

The synthetic generator plants a low-rank structure plus Gaussian noise of a known std, so a
test knows the floor no model can beat (``noise_std``) and the ceiling (predicting the mean).
"""

from __future__ import annotations

import io
import os
import posixpath
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from sentinel.ml import storage

_ALIASES = {
    "userid": "user",
    "user_id": "user",
    "user": "user",
    "movieid": "item",
    "movie_id": "item",
    "itemid": "item",
    "item_id": "item",
    "item": "item",
    "rating": "rating",
    "timestamp": "ts",
    "ts": "ts",
}


class DataError(ValueError):
    """A ratings file is missing, empty, or in a layout we do not understand."""


@dataclass(frozen=True)
class Ratings:
    """Raw ratings: external ids as the files spell them."""

    user_ids: np.ndarray  # int64, external user ids
    item_ids: np.ndarray  # int64, external movie ids
    ratings: np.ndarray  # float32
    sources: tuple[str, ...] = ()

    def __len__(self) -> int:
        return len(self.ratings)


@dataclass(frozen=True)
class Encoded:
    """Ratings with dense indices ``0..n-1``; ``user_ids[i]`` is the external id of index ``i``."""

    users: np.ndarray  # int64 indices
    items: np.ndarray  # int64 indices
    ratings: np.ndarray  # float32
    user_ids: np.ndarray  # int64, sorted external ids
    item_ids: np.ndarray  # int64, sorted external ids

    @property
    def n_users(self) -> int:
        return len(self.user_ids)

    @property
    def n_items(self) -> int:
        return len(self.item_ids)

    def __len__(self) -> int:
        return len(self.ratings)

    def take(self, mask: np.ndarray) -> Encoded:
        return Encoded(
            users=self.users[mask],
            items=self.items[mask],
            ratings=self.ratings[mask],
            user_ids=self.user_ids,
            item_ids=self.item_ids,
        )


@dataclass(frozen=True)
class Split:
    train: Encoded
    val: Encoded


@dataclass(frozen=True)
class Synthetic:
    ratings: Ratings
    noise_std: float  # the RMSE floor: no model beats the noise
    baseline_rmse: float  # what predicting the global mean scores
    rank: int


# ---------------------------------------------------------------- reading


def _normalise(df: pd.DataFrame, source: str) -> pd.DataFrame:
    renamed = {c: _ALIASES[str(c).strip().lower()] for c in df.columns if str(c).strip().lower() in _ALIASES}
    df = df.rename(columns=renamed)
    missing = {"user", "item", "rating"} - set(df.columns)
    if missing:
        raise DataError(f"{source}: columns {sorted(missing)} missing (have {list(df.columns)[:8]})")
    return df[["user", "item", "rating"]]


def parse(data: bytes, *, name: str) -> pd.DataFrame:
    """Parse one file's bytes into a ``user, item, rating`` frame; the layout is sniffed."""
    if name.endswith(".parquet") or data[:4] == b"PAR1":
        return _normalise(pq.read_table(io.BytesIO(data)).to_pandas(), name)
    head = data[:4096].split(b"\n", 1)[0].decode("utf-8", "replace")
    if "\t" in head or posixpath.basename(name) == "u.data":
        first = head.split("\t")
        has_header = not first[0].strip().lstrip("-").isdigit()
        df = pd.read_csv(io.BytesIO(data), sep="\t", header=0 if has_header else None)
        if not has_header:
            df = df.iloc[:, :4]
            df.columns = ["user", "item", "rating", "ts"][: df.shape[1]]
        return _normalise(df, name)
    first = head.split(",")
    if first and first[0].strip().lstrip("-").isdigit():
        df = pd.read_csv(io.BytesIO(data), header=None).iloc[:, :4]
        df.columns = ["user", "item", "rating", "ts"][: df.shape[1]]
        return _normalise(df, name)
    return _normalise(pd.read_csv(io.BytesIO(data)), name)


def load_ratings(paths: Iterable[str | os.PathLike[str]], *, endpoint_url: str | None = None) -> Ratings:
    """Read and concatenate ratings from local paths and/or ``s3://`` URIs."""
    frames, sources = [], []
    for p in paths:
        loc = storage.resolve(p, endpoint_url=endpoint_url)
        try:
            raw = storage.read_bytes(loc)
        except (FileNotFoundError, OSError) as e:
            raise DataError(f"cannot read {loc.uri}: {e}") from e
        frames.append(parse(raw, name=loc.path))
        sources.append(loc.uri)
    if not frames:
        raise DataError("no ratings files given")
    df = pd.concat(frames, ignore_index=True).dropna()
    if df.empty:
        raise DataError(f"no ratings in {sources}")
    return Ratings(
        user_ids=df["user"].to_numpy(dtype=np.int64),
        item_ids=df["item"].to_numpy(dtype=np.int64),
        ratings=df["rating"].to_numpy(dtype=np.float32),
        sources=tuple(sources),
    )


# ---------------------------------------------------------------- ids and split


def encode(ratings: Ratings) -> Encoded:
    user_ids, users = np.unique(ratings.user_ids, return_inverse=True)
    item_ids, items = np.unique(ratings.item_ids, return_inverse=True)
    return Encoded(
        users=users.astype(np.int64),
        items=items.astype(np.int64),
        ratings=ratings.ratings.astype(np.float32),
        user_ids=user_ids.astype(np.int64),
        item_ids=item_ids.astype(np.int64),
    )


def validation_mask(user_ids: np.ndarray, item_ids: np.ndarray, *, val_fraction: float, seed: int = 0) -> np.ndarray:
    """True for the rows held out: a hash of (user, movie, seed), so file order never matters."""
    h = (user_ids.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)) ^ (
        item_ids.astype(np.uint64) * np.uint64(0xC2B2AE3D27D4EB4F) + np.uint64(seed)
    )
    h ^= h >> np.uint64(31)
    h *= np.uint64(0xBF58476D1CE4E5B9)
    h ^= h >> np.uint64(29)
    return (h % np.uint64(10_000)).astype(np.float64) < val_fraction * 10_000


def split(encoded: Encoded, *, val_fraction: float = 0.1, seed: int = 0) -> Split:
    """Deterministic train/validation split keyed on the external ids."""
    mask = validation_mask(
        encoded.user_ids[encoded.users], encoded.item_ids[encoded.items], val_fraction=val_fraction, seed=seed
    )
    return Split(train=encoded.take(~mask), val=encoded.take(mask))


# ---------------------------------------------------------------- synthetic


def synthetic(
    n_users: int = 300,
    n_items: int = 200,
    *,
    rank: int = 4,
    density: float = 0.2,
    noise_std: float = 0.3,
    bias_std: float = 0.3,
    global_mean: float = 3.5,
    seed: int = 0,
) -> Synthetic:
    """Ratings ``mean + b_u + b_i + <u, v> + N(0, noise_std²)`` with ``<u, v>`` of unit variance."""
    rng = np.random.default_rng(seed)
    scale = rank ** -0.25
    u = rng.normal(0.0, scale, (n_users, rank))
    v = rng.normal(0.0, scale, (n_items, rank))
    bu = rng.normal(0.0, bias_std, n_users)
    bi = rng.normal(0.0, bias_std, n_items)
    mask = rng.random((n_users, n_items)) < density
    users, items = np.nonzero(mask)
    signal = global_mean + bu[users] + bi[items] + np.einsum("ij,ij->i", u[users], v[items])
    ratings = signal + rng.normal(0.0, noise_std, len(users))
    return Synthetic(
        ratings=Ratings(
            user_ids=(users + 1).astype(np.int64),
            item_ids=((items + 1) * 10).astype(np.int64),
            ratings=ratings.astype(np.float32),
            sources=(f"synthetic:{n_users}x{n_items}:r{rank}:s{seed}",),
        ),
        noise_std=noise_std,
        baseline_rmse=float(np.std(ratings)),
        rank=rank,
    )


def to_frame(ratings: Ratings) -> pd.DataFrame:
    """MovieLens ``ratings.csv`` columns, e.g. to write a synthetic set to disk or S3."""
    return pd.DataFrame(
        {
            "userId": ratings.user_ids,
            "movieId": ratings.item_ids,
            "rating": ratings.ratings,
            "timestamp": np.zeros(len(ratings), dtype=np.int64),
        }
    )

"""The Serve app on the shared head: sorted scores + version, top-k unseen, fallback, 422, health."""

from __future__ import annotations

import concurrent.futures as cf
import os

import httpx
import pytest
import ray
from ray import serve

from sentinel.ml import data, fitting, model, scoring
from sentinel.ml import serve as serve_mod

pytestmark = pytest.mark.slow

VERSION = "v-serve-test"


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A small model trained in-process (no Ray needed for this part)."""
    model.set_threads(1)
    syn = data.synthetic(120, 80, seed=4)
    split = data.split(data.encode(syn.ratings), val_fraction=0.1)
    mf = model.build(split.train, dim=8)
    opt = fitting.optimizer(mf, lr=0.05)
    shard = fitting.to_shard(split.train)
    for epoch in range(3):
        fitting.train_epoch(mf, opt, shard, order=fitting.epoch_order(len(shard), epoch=epoch, seed=0), batch_size=256)
    bundle = model.bundle(mf, split.train)
    path = tmp_path_factory.mktemp("serve") / "model.pt"
    model.save(bundle, path)
    return path, bundle, scoring.from_bundle(bundle, version=VERSION)


@pytest.fixture(scope="module")
def base_url(ray_head, trained):
    if not ray.is_initialized():
        ray.init(address=ray_head.address, log_to_driver=False)
    name, prefix = f"ml-test-{os.getpid()}", f"/ml-test-{os.getpid()}"
    args = serve_mod.AppArgs(model_path=str(trained[0]), version=VERSION)
    serve.run(serve_mod.app(args), name=name, route_prefix=prefix, blocking=False)
    try:
        yield f"{ray_head.serve_url}{prefix}"
    finally:
        serve.delete(name)


def test_scores_for_given_movies_come_sorted_with_the_version(base_url, trained):
    _, bundle, weights = trained
    user, movies = int(bundle.user_ids[5]), [int(m) for m in bundle.item_ids[[3, 30, 7, 60]]]
    r = httpx.post(f"{base_url}/recommend", json={"user_id": user, "movie_ids": movies}, timeout=30)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["model_version"] == VERSION and body["fallback"] is False and body["user_id"] == user
    scores = [i["score"] for i in body["items"]]
    assert sorted(i["movie_id"] for i in body["items"]) == sorted(movies)
    assert scores == sorted(scores, reverse=True)
    expected = scoring.score(weights, scoring.Query(user, tuple(movies)))
    assert [i["movie_id"] for i in body["items"]] == [m for m, _ in expected.items]
    assert scores == pytest.approx([s for _, s in expected.items], abs=1e-5)


def test_without_movies_the_top_k_are_unseen_by_the_user(base_url, trained):
    _, bundle, _ = trained
    row = 9
    user = int(bundle.user_ids[row])
    seen = set(bundle.item_ids[bundle.seen_indices[bundle.seen_indptr[row] : bundle.seen_indptr[row + 1]]].tolist())
    body = httpx.post(f"{base_url}/recommend", json={"user_id": user, "k": 5}, timeout=30).json()
    ids = [i["movie_id"] for i in body["items"]]
    assert len(ids) == 5 and not (set(ids) & seen)
    assert [i["score"] for i in body["items"]] == sorted((i["score"] for i in body["items"]), reverse=True)


def test_unknown_user_gets_the_popularity_fallback(base_url, trained):
    _, bundle, _ = trained
    body = httpx.post(f"{base_url}/recommend", json={"user_id": 10_000_000, "k": 3}, timeout=30).json()
    assert body["fallback"] is True and body["model_version"] == VERSION
    most_popular = bundle.item_ids[(-bundle.popularity).argsort(kind="stable")[:3]].tolist()
    assert [i["movie_id"] for i in body["items"]] == most_popular


@pytest.mark.parametrize(
    "bad",
    [{}, {"user_id": "abc"}, {"user_id": 1, "movie_ids": "100"}, {"user_id": 1, "k": 0}, {"user_id": 1, "x": 1}],
)
def test_malformed_bodies_are_422(base_url, bad):
    assert httpx.post(f"{base_url}/recommend", json=bad, timeout=30).status_code == 422
    assert httpx.post(f"{base_url}/recommend", content=b"not json", timeout=30).status_code == 422


def test_health_and_concurrent_requests(base_url, trained):
    _, bundle, weights = trained
    health = httpx.get(f"{base_url}/healthz", timeout=30)
    assert health.status_code == 200 and health.json()["model_version"] == VERSION
    users = [int(u) for u in bundle.user_ids[:24]]

    def ask(u: int) -> list[int]:
        body = httpx.post(f"{base_url}/recommend", json={"user_id": u}, timeout=30).json()
        return [i["movie_id"] for i in body["items"]]

    with cf.ThreadPoolExecutor(8) as pool:  # concurrent requests share @serve.batch batches
        got = list(pool.map(ask, users))
    assert got == [[m for m, _ in scoring.score(weights, scoring.Query(u)).items] for u in users]

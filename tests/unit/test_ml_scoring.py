"""Pure scoring: ranked scores, top-k unseen, popularity fallback — and the Serve app's typed args."""

from __future__ import annotations

import numpy as np
import pydantic
import pytest
import torch

from sentinel.ml import model, scoring


def _weights() -> tuple[model.Bundle, scoring.Weights]:
    # 2 users × 4 items, 1-d embeddings: scores are easy to work out by hand
    state = {
        "user_emb.weight": torch.tensor([[1.0], [-1.0]]),
        "item_emb.weight": torch.tensor([[0.1], [0.4], [0.2], [0.3]]),
        "user_bias.weight": torch.zeros(2, 1),
        "item_bias.weight": torch.zeros(4, 1),
        "global_mean": torch.tensor(3.0),
    }
    b = model.Bundle(
        state_dict=state,
        dim=1,
        user_ids=np.array([7, 9]),
        item_ids=np.array([100, 200, 300, 400]),
        popularity=np.array([5.0, 1.0, 3.0, 1.0], dtype=np.float32),
        seen_indptr=np.array([0, 1, 1]),  # user 7 has rated movie 200; user 9 nothing
        seen_indices=np.array([1]),
    )
    return b, scoring.from_bundle(b, version="v7")


def test_requested_movies_come_back_best_first_with_unknown_ones_listed():
    _, w = _weights()
    s = scoring.score(w, scoring.Query(7, (100, 200, 999, 300)))
    assert [m for m, _ in s.items] == [200, 300, 100]
    assert [v for _, v in s.items] == pytest.approx([3.4, 3.2, 3.1])
    assert s.unknown_movie_ids == (999,) and s.fallback is False and s.model_version == "v7"


def test_top_k_skips_what_the_user_has_seen():
    _, w = _weights()
    assert [m for m, _ in scoring.score(w, scoring.Query(7, None, k=2)).items] == [400, 300]  # 200 was seen
    assert [m for m, _ in scoring.score(w, scoring.Query(9, None, k=2)).items] == [100, 300]  # negative taste


def test_unknown_user_falls_back_to_popularity():
    _, w = _weights()
    s = scoring.score(w, scoring.Query(12345, None, k=3))
    assert s.fallback is True
    assert [m for m, _ in s.items] == [100, 300, 200]  # most rated first; ties by movie id
    assert scoring.as_json(s)["fallback"] is True


def test_a_batch_scores_like_one_at_a_time():
    _, w = _weights()
    qs = [scoring.Query(7), scoring.Query(555, (100, 400)), scoring.Query(9, (300,)), scoring.Query(7, None, k=1)]
    assert scoring.score_batch(w, qs) == [scoring.score(w, q) for q in qs]


def test_app_args_need_exactly_one_model_source():
    from sentinel.ml import serve as serve_mod

    assert serve_mod.AppArgs(model_path="/m.pt", version="v1").version == "v1"
    assert serve_mod.AppArgs(registry="s3://b/models").version is None  # → the registry's current
    for bad in [{}, {"model_path": "/m.pt"}, {"model_path": "/m", "registry": "/r", "version": "v"}, {"x": 1}]:
        with pytest.raises(pydantic.ValidationError):
            serve_mod.AppArgs.model_validate(bad)


def test_the_serve_app_can_load_the_registry_current_version(tmp_path):
    from sentinel.ml import registry
    from sentinel.ml import serve as serve_mod

    b, _ = _weights()
    reg = registry.Registry(str(tmp_path / "models"))
    reg.register("v1", model.dumps(b), card={}, make_current=True)
    reg.register("v2", model.dumps(b), card={})
    assert serve_mod.load_weights(serve_mod.AppArgs(registry=str(tmp_path / "models"))).version == "v1"
    pinned = serve_mod.load_weights(serve_mod.AppArgs(registry=str(tmp_path / "models"), version="v2"))
    assert pinned.version == "v2" and pinned.item_ids.tolist() == [100, 200, 300, 400]

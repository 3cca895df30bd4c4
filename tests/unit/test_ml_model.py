"""Model bundle round trip, the epoch loop's sharding, and Tune's budget arithmetic (no Ray needed)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sentinel.ml import data, fitting, model
from sentinel.ml import tune as tune_mod


@pytest.fixture(scope="module")
def split():
    return data.split(data.encode(data.synthetic(80, 50, seed=5).ratings), val_fraction=0.2)


def test_a_saved_bundle_predicts_exactly_what_the_trained_model_did(split, tmp_path):
    model.set_threads(1)
    mf = model.build(split.train, dim=4)
    opt = fitting.optimizer(mf, lr=0.05)
    shard = fitting.to_shard(split.train)
    before = fitting.rmse(*fitting.squared_error(mf, fitting.to_shard(split.val)))
    for epoch in range(3):
        fitting.train_epoch(mf, opt, shard, order=fitting.epoch_order(len(shard), epoch=epoch, seed=0), batch_size=64)
    after = fitting.rmse(*fitting.squared_error(mf, fitting.to_shard(split.val)))
    assert after < before  # it learned something
    path = tmp_path / "model.pt"
    model.save(model.bundle(mf, split.train), path)
    loaded = model.load(path)  # weights_only=True inside: no pickle of arbitrary objects
    again = model.restore(loaded)
    u, i = torch.from_numpy(split.val.users), torch.from_numpy(split.val.items)
    with torch.no_grad():
        assert torch.equal(mf(u, i), again(u, i))
    assert loaded.user_ids.tolist() == split.train.user_ids.tolist()
    # seen items per user are exactly the training rows
    row = 3
    seen = set(loaded.seen_indices[loaded.seen_indptr[row] : loaded.seen_indptr[row + 1]].tolist())
    assert seen == set(split.train.items[split.train.users == row].tolist())


def test_a_foreign_file_is_refused(tmp_path):
    path = tmp_path / "x.pt"
    torch.save({"format": "other"}, path)
    with pytest.raises(ValueError, match=r"not a sentinel\.mf/1"):
        model.load(path)


def test_every_rank_gets_the_same_number_of_distinct_rows():
    shards = [fitting.epoch_order(101, epoch=2, seed=9, rank=r, world_size=3) for r in range(3)]
    assert {len(s) for s in shards} == {33}  # equal step counts: DDP never waits on a missing rank
    flat = np.concatenate(shards)
    assert len(set(flat.tolist())) == len(flat)
    assert not np.array_equal(fitting.epoch_order(101, epoch=3, seed=9), fitting.epoch_order(101, epoch=2, seed=9))


def test_asha_rungs_and_compute_saved():
    search = tune_mod.Search(max_epochs=27, grace_period=1, reduction_factor=3)
    assert tune_mod.milestones(search, "asha") == [1, 3, 9, 27]
    assert tune_mod.milestones(search, "fifo") == [27]
    assert tune_mod.milestones(tune_mod.Search(), "asha") == [2, 8, 32]  # the defaults the bench uses
    assert tune_mod.milestones(tune_mod.Search(max_epochs=1), "asha") == [1]  # grace never exceeds the budget
    assert tune_mod.compute_saved_pct(54, 16 * 27) == pytest.approx(87.5)
    assert tune_mod.compute_saved_pct(0, 0) == 0.0

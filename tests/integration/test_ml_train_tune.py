"""Ray Train (2 DDP workers) and Ray Tune + ASHA on the shared local Ray head, tiny synthetic data."""

from __future__ import annotations

import pytest
import ray
import torch

from sentinel.ml import data, fitting, model
from sentinel.ml import train as train_mod
from sentinel.ml import tune as tune_mod

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def connected(ray_head):
    if not ray.is_initialized():
        ray.init(address=ray_head.address, log_to_driver=False)
    return ray_head


@pytest.fixture(scope="module")
def synthetic():
    syn = data.synthetic(300, 200, seed=0)
    return syn, data.split(data.encode(syn.ratings), val_fraction=0.1)


def _val_rmse(model_bytes: bytes, split: data.Split) -> float:
    mf = model.restore(model.loads(model_bytes))
    with torch.no_grad():
        return fitting.rmse(*fitting.squared_error(mf, fitting.to_shard(split.val)))


def test_two_workers_two_epochs_learn_the_planted_structure(connected, synthetic, tmp_path):
    syn, split = synthetic
    res = train_mod.run_training(
        split,
        storage_uri=str(tmp_path / "store"),
        version="t-train",
        sources=syn.ratings.sources,
        num_workers=2,
        hyper=train_mod.Hyper(epochs=2, lr=0.1, batch_size=128),
    )
    # well below "predict the mean", and (sanity) never below the noise the generator added
    halfway = (syn.noise_std + syn.baseline_rmse) / 2
    assert syn.noise_std * 0.9 < res.rmse < halfway, (res.rmse, syn.noise_std, syn.baseline_rmse)
    assert res.epochs == 2 and len(res.rmse_history) == 2 and res.rmse_history[1] < res.rmse_history[0]
    card = res.card
    assert card["version"] == "t-train" and card["epochs"] == 2
    assert card["data"]["rows"] == len(syn.ratings) and card["data"]["keys"] == list(syn.ratings.sources)
    assert card["config"]["num_workers"] == 2 and card["trainer"] == "ray.train.torch.TorchTrainer"
    # the checkpoint rank 0 reported is the model that scored that RMSE
    assert _val_rmse(res.model_bytes, split) == pytest.approx(res.rmse, rel=1e-4)
    assert res.checkpoint_uri.startswith(str(tmp_path / "store" / "runs"))


def test_asha_runs_fewer_epochs_than_the_full_budget(connected, synthetic, tmp_path):
    _, split = synthetic
    search = tune_mod.Search(trials=8, max_epochs=9, grace_period=1, reduction_factor=3)
    res = tune_mod.run_tuning(split, storage_uri=str(tmp_path / "store"), version="t-tune", search=search)
    assert res.trials == 8 and res.budget == 8 * 9
    assert res.epochs_run < res.budget and res.compute_saved_pct == pytest.approx(100 * (1 - res.epochs_run / 72))
    assert all(1 <= t.epochs <= 9 for t in res.per_trial)
    assert max(t.epochs for t in res.per_trial) == 9  # someone was allowed the full budget
    assert sum(t.epochs for t in res.per_trial) == res.epochs_run
    # the best trial is the best finisher, and its checkpoint is that model
    assert res.best_rmse == min(t.rmse for t in res.per_trial)
    assert _val_rmse(res.model_bytes, split) == pytest.approx(res.best_rmse, rel=1e-4)
    assert set(res.best_config) >= {"lr", "dim", "weight_decay"}

"""Ratings loading (both MovieLens layouts, Parquet, several files), the split, and the generator."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sentinel.ml import data


def _write_layouts(tmp_path):
    csv = tmp_path / "ratings.csv"
    csv.write_text("userId,movieId,rating,timestamp\n1,10,4.0,964982703\n1,20,3.5,964981247\n2,10,5.0,964982224\n")
    udata = tmp_path / "u.data"
    udata.write_text("196\t242\t3\t881250949\n186\t302\t3\t891717742\n")
    parquet = tmp_path / "more.parquet"
    pd.DataFrame({"userId": [3, 3], "movieId": [30, 10], "rating": [2.0, 1.5]}).to_parquet(parquet)
    return csv, udata, parquet


def test_each_layout_yields_the_same_columns(tmp_path):
    csv, udata, parquet = _write_layouts(tmp_path)
    r_csv = data.load_ratings([csv])
    assert r_csv.user_ids.tolist() == [1, 1, 2]
    assert r_csv.item_ids.tolist() == [10, 20, 10]
    assert r_csv.ratings.tolist() == [4.0, 3.5, 5.0]
    r_u = data.load_ratings([udata])
    assert (r_u.user_ids.tolist(), r_u.item_ids.tolist(), r_u.ratings.tolist()) == ([196, 186], [242, 302], [3.0, 3.0])
    r_pq = data.load_ratings([parquet])
    assert r_pq.item_ids.tolist() == [30, 10]


def test_several_files_concatenate_and_ids_map_densely(tmp_path):
    csv, udata, parquet = _write_layouts(tmp_path)
    ratings = data.load_ratings([csv, udata, parquet])
    assert len(ratings) == 7
    assert ratings.sources == (str(csv), str(udata), str(parquet))
    enc = data.encode(ratings)
    assert enc.user_ids.tolist() == [1, 2, 3, 186, 196]
    assert enc.item_ids.tolist() == [10, 20, 30, 242, 302]
    # every row maps back to its external ids
    assert enc.user_ids[enc.users].tolist() == ratings.user_ids.tolist()
    assert enc.item_ids[enc.items].tolist() == ratings.item_ids.tolist()


def test_missing_file_and_bad_columns_are_data_errors(tmp_path):
    with pytest.raises(data.DataError, match="cannot read"):
        data.load_ratings([tmp_path / "nope.csv"])
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n")
    with pytest.raises(data.DataError, match="missing"):
        data.load_ratings([bad])
    with pytest.raises(data.DataError, match="no ratings files"):
        data.load_ratings([])


def test_split_is_deterministic_and_independent_of_row_order():
    syn = data.synthetic(60, 40, seed=3)
    enc = data.encode(syn.ratings)
    a = data.split(enc, val_fraction=0.2)
    perm = np.random.default_rng(0).permutation(len(syn.ratings))
    shuffled = data.Ratings(syn.ratings.user_ids[perm], syn.ratings.item_ids[perm], syn.ratings.ratings[perm])
    b = data.split(data.encode(shuffled), val_fraction=0.2)

    def held_out(s: data.Split) -> set[tuple[int, int]]:
        v = s.val
        return set(zip(v.user_ids[v.users].tolist(), v.item_ids[v.items].tolist(), strict=True))

    assert held_out(a) == held_out(b)
    assert len(a.train) + len(a.val) == len(enc)
    assert 0.15 < len(a.val) / len(enc) < 0.25


def test_synthetic_noise_floor_is_what_the_generator_says():
    syn = data.synthetic(200, 150, rank=3, noise_std=0.25, seed=1)
    # the ratings' spread is signal + noise; the noise alone is the floor
    assert syn.noise_std == 0.25
    assert syn.baseline_rmse > 2 * syn.noise_std
    again = data.synthetic(200, 150, rank=3, noise_std=0.25, seed=1)
    assert np.array_equal(syn.ratings.ratings, again.ratings.ratings)


def test_s3_layouts_load_through_an_endpoint_override(moto_s3):
    endpoint, client = moto_s3
    body = "userId,movieId,rating,timestamp\n5,50,4.5,1\n6,60,2.0,2\n"
    client.put_object(Bucket="ml-data", Key="in/ratings.csv", Body=body.encode())
    client.put_object(Bucket="ml-data", Key="in/u.data", Body=b"7\t70\t3\t3\n")
    ratings = data.load_ratings(["s3://ml-data/in/ratings.csv", "s3://ml-data/in/u.data"], endpoint_url=endpoint)
    assert ratings.user_ids.tolist() == [5, 6, 7]
    assert ratings.ratings.tolist() == [4.5, 2.0, 3.0]

"""Registry round trip: register, list, get, current, previous — local dir and S3 (moto)."""

from __future__ import annotations

import datetime as dt

import pytest

from sentinel.ml import registry

T0 = dt.datetime(2025, 3, 2, 20, 0, tzinfo=dt.UTC)




def _roundtrip(reg: registry.Registry) -> None:
    assert reg.list_versions() == []
    assert reg.current() is None and reg.previous() is None
    a = reg.register("v1", b"model-one", card={"rmse": 0.41}, now=T0)
    reg.register("v2", b"model-two", card={"rmse": 0.39}, now=T0 + dt.timedelta(hours=1))
    assert [v.version for v in reg.list_versions()] == ["v1", "v2"]
    assert reg.get("v1").rmse == 0.41 and reg.get("v1").card["registered_at"].startswith("2025-03-02T20:00")
    assert reg.model_bytes("v2") == b"model-two"
    assert a.model_uri.endswith("versions/v1/model.pt")
    with pytest.raises(registry.VersionExists):
        reg.register("v1", b"again", card={})
    with pytest.raises(registry.VersionNotFound):
        reg.get("v9")
    with pytest.raises(registry.VersionNotFound):
        reg.set_current("v9")  # never point at nothing

    reg.set_current("v1")
    reg.set_current("v2")
    assert reg.current().version == "v2"  # type: ignore[union-attr]
    assert reg.previous().version == "v1"  # type: ignore[union-attr]
    reg.set_current(reg.previous().version)  # type: ignore[union-attr]  # rollback
    assert reg.current().version == "v1"  # type: ignore[union-attr]
    assert reg.previous().version == "v2"  # type: ignore[union-attr]


def test_local_registry_round_trip(tmp_path):
    _roundtrip(registry.Registry(str(tmp_path / "models")))


def test_a_fresh_registry_object_sees_the_same_state(tmp_path):
    root = str(tmp_path / "models")
    registry.Registry(root).register("v1", b"m", card={"rmse": 1.0}, make_current=True)
    again = registry.Registry(root)
    assert again.current().version == "v1"  # type: ignore[union-attr]
    assert [v.version for v in again.list_versions()] == ["v1"]


def test_half_written_versions_are_not_listed(tmp_path):
    root = tmp_path / "models"
    reg = registry.Registry(str(root))
    reg.register("v1", b"m", card={})
    (root / "versions" / "v2").mkdir(parents=True)
    (root / "versions" / "v2" / "model.pt").write_bytes(b"partial")  # crashed before the card
    assert [v.version for v in reg.list_versions()] == ["v1"]


@pytest.mark.parametrize("bad", ["", "../x", "a/b", "-x", "x" * 200])
def test_version_ids_are_validated(tmp_path, bad):
    with pytest.raises(registry.InvalidVersion):
        registry.Registry(str(tmp_path)).register(bad, b"m", card={})


def test_s3_registry_round_trip(moto_s3):
    endpoint, client = moto_s3
    _roundtrip(registry.Registry("s3://ml-data/models", endpoint_url=endpoint))
    keys = sorted(o["Key"] for o in client.list_objects_v2(Bucket="ml-data", Prefix="models/")["Contents"])
    assert "models/current.json" in keys and "models/versions/v2/model_card.json" in keys

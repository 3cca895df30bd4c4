"""sentinel.yaml validation: good files load, bad ones get one exact message naming file and field."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from sentinel import config
from sentinel.errors import ConfigError

EXAMPLE = Path(__file__).resolve().parents[2] / "sentinel.example.yaml"


def doc() -> dict:
    return yaml.safe_load(config.EMBEDDED)


def write(tmp_path: Path, data: object, name: str = "sentinel.yaml") -> Path:
    p = tmp_path / name
    p.write_text(data if isinstance(data, str) else yaml.safe_dump(data))
    return p


def error_of(tmp_path: Path, data: object, env: dict[str, str] | None = None) -> str:
    p = write(tmp_path, data)
    with pytest.raises(ConfigError) as exc:
        config.load(p, env=env or {})
    return str(exc.value).replace(str(tmp_path) + "/", "")


def test_embedded_default_loads_when_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    cfg = config.load(None, env={})
    ng = cfg.clusters["training"].nodegroups["managed-ng-1"]
    assert (ng.awake.min, ng.awake.desired, ng.awake.max) == (2, 2, 4)
    assert cfg.clusters["training"].system_deployments == [
        "kube-system/cluster-autoscaler",
        "kube-system/metrics-server",
        "kube-system/coredns",
    ]


def test_example_file_is_valid_and_documented() -> None:
    cfg = config.load(EXAMPLE, env={})
    assert "training" in cfg.clusters
    assert {s.action for s in cfg.schedules} == {"sleep", "wake"}
    commented = [ln for ln in EXAMPLE.read_text().splitlines() if ln.strip() and not ln.strip().startswith("#")]
    assert sum("#" in ln for ln in commented) >= len(commented) * 0.6, "the example is commented line by line"


def test_desired_above_max(tmp_path: Path) -> None:
    d = doc()
    d["clusters"]["training"]["nodegroups"]["managed-ng-1"]["awake"] = {"min": 2, "desired": 5, "max": 4}
    assert error_of(tmp_path, d) == (
        "sentinel.yaml: clusters.training.nodegroups.managed-ng-1.awake: desired (5) is above max (4)"
    )


def test_min_above_desired(tmp_path: Path) -> None:
    d = doc()
    d["clusters"]["training"]["nodegroups"]["managed-ng-1"]["awake"] = {"min": 3, "desired": 2, "max": 4}
    assert error_of(tmp_path, d) == (
        "sentinel.yaml: clusters.training.nodegroups.managed-ng-1.awake: min (3) is above desired (2)"
    )


def test_unknown_field_named(tmp_path: Path) -> None:
    d = doc()
    d["clusters"]["training"]["nodegroup"] = {}
    assert error_of(tmp_path, d) == "sentinel.yaml: clusters.training.nodegroup: Extra inputs are not permitted"


def test_bad_timezone(tmp_path: Path) -> None:
    d = doc()
    d["schedules"][0]["timezone"] = "Mars/Olympus"
    assert error_of(tmp_path, d) == "sentinel.yaml: schedules[0].timezone: unknown IANA timezone 'Mars/Olympus'"


def test_schedule_for_unknown_cluster(tmp_path: Path) -> None:
    d = doc()
    d["schedules"][1]["cluster"] = "nope"
    assert error_of(tmp_path, d) == "sentinel.yaml: schedules[1].cluster: unknown cluster 'nope'"


def test_bad_deployment_ref(tmp_path: Path) -> None:
    d = doc()
    d["clusters"]["training"]["system_deployments"] = ["coredns"]
    assert error_of(tmp_path, d) == (
        "sentinel.yaml: clusters.training.system_deployments: 'coredns' is not namespace/name"
    )


def test_secret_in_file_is_refused(tmp_path: Path) -> None:
    d = doc()
    d["chatops"] = {"signing_secret": "abc"}
    msg = error_of(tmp_path, d)
    assert msg.startswith("sentinel.yaml: chatops.signing_secret: secrets are not read from the file")
    assert "abc" not in msg


def test_invalid_yaml_names_line(tmp_path: Path) -> None:
    assert error_of(tmp_path, "clusters: [\n  a: b\n").startswith("sentinel.yaml: not valid YAML (line 3")


def test_top_level_must_be_mapping(tmp_path: Path) -> None:
    assert error_of(tmp_path, "- a\n- b\n") == "sentinel.yaml: the top level must be a mapping, not list"


def test_named_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such file"):
        config.load(tmp_path / "missing.yaml", env={})


def test_visibility_timeout_must_exceed_time_limit(tmp_path: Path) -> None:
    d = doc() | {"task_time_limit": 60, "visibility_timeout": 30}
    assert error_of(tmp_path, d) == (
        "sentinel.yaml: visibility_timeout (30) must be above task_time_limit (60), "
        "or Redis redelivers tasks that are still running"
    )


def test_env_overrides_redis_url(tmp_path: Path) -> None:
    p = write(tmp_path, doc() | {"redis_url": "redis://file:1/0"})
    cfg = config.load(p, env={"SENTINEL_REDIS_URL": "redis://env:2/0"})
    assert cfg.redis_url == "redis://env:2/0"


def test_env_overrides_scalars_and_is_validated(tmp_path: Path) -> None:
    p = write(tmp_path, doc())
    cfg = config.load(p, env={"SENTINEL_DEDUP_TTL": "2h", "SENTINEL_AUDIT_MAXLEN": "500"})
    assert (cfg.dedup_ttl, cfg.audit_maxlen) == (7200.0, 500)
    with pytest.raises(ConfigError, match="audit_maxlen: Input should be greater than or equal to 100"):
        config.load(p, env={"SENTINEL_AUDIT_MAXLEN": "5"})


def test_config_env_var_picks_file(tmp_path: Path) -> None:
    p = write(tmp_path, doc() | {"audit_maxlen": 500}, name="other.yaml")
    assert config.load(None, env={"SENTINEL_CONFIG": str(p)}).audit_maxlen == 500


def test_secrets_from_env_are_secret() -> None:
    s = config.secrets({"SENTINEL_SLACK_SIGNING_SECRET": "shh"})
    assert s.slack_signing_secret is not None
    assert s.slack_signing_secret.get_secret_value() == "shh"
    assert "shh" not in repr(s)


@pytest.mark.parametrize(
    ("raw", "seconds"), [(90, 90.0), ("90s", 90.0), ("15m", 900.0), ("2h", 7200.0), ("1d", 86400.0)]
)
def test_durations(raw: object, seconds: float) -> None:
    assert config.parse_duration(raw) == seconds


def test_bad_duration(tmp_path: Path) -> None:
    d = doc()
    d["clusters"]["training"]["wake_timeout"] = "soon"
    assert error_of(tmp_path, d) == (
        "sentinel.yaml: clusters.training.wake_timeout: not a duration: 'soon' (use e.g. 90s, 15m, 2h)"
    )

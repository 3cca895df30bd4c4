"""The retrain pipeline as ops runs it: a Ray Job on the shared head, then read the registry."""

from __future__ import annotations

import json
import time

import pytest
from ray.job_submission import JobStatus, JobSubmissionClient

from sentinel.ml import data, model, registry

pytestmark = pytest.mark.slow


def _run_job(ray_head, entrypoint: str, submission_id: str, timeout: float = 420) -> tuple[JobStatus, str]:
    client = JobSubmissionClient(ray_head.dashboard_url)
    client.submit_job(
        entrypoint=entrypoint,
        submission_id=submission_id,
        runtime_env={"env_vars": {"SENTINEL_GIT_SHA": "abc1234"}},
    )
    deadline = time.monotonic() + timeout
    status = client.get_job_status(submission_id)
    while not status.is_terminal() and time.monotonic() < deadline:
        time.sleep(2)
        status = client.get_job_status(submission_id)
    return status, client.get_job_logs(submission_id)


def _summary(logs: str) -> dict:
    lines = [json.loads(x) for x in logs.splitlines() if x.startswith('{"kind": "sentinel.ml.pipeline"')]
    assert len(lines) == 1, logs[-3000:]
    return lines[0]


def test_pipeline_job_trains_tunes_and_registers_a_version(ray_head, tmp_path):
    syn = data.synthetic(200, 120, seed=2)
    csv = tmp_path / "ratings.csv"
    data.to_frame(syn.ratings).to_csv(csv, index=False)
    root = tmp_path / "models"
    cmd = (
        f"python -m sentinel.ml.pipeline --data {csv} --storage {root} --version v-job-1 "
        "--tune-trials 3 --max-epochs 3 --epochs 2 --promote"
    )
    status, logs = _run_job(ray_head, cmd, f"ml-pipeline-{time.time_ns()}")
    assert status == JobStatus.SUCCEEDED, logs[-3000:]
    summary = _summary(logs)
    assert summary["version"] == "v-job-1" and summary["trials"] == 3 and summary["budget"] == 9
    assert summary["epochs_run"] <= summary["budget"] and summary["chosen"] in {"train", "tune"}
    assert summary["rmse"] == min(summary["train_rmse"], summary["tune_rmse"])

    reg = registry.Registry(str(root))  # what ops reads afterwards
    current = reg.current()
    assert current is not None and current.version == "v-job-1"
    assert current.card["git_sha"] == "abc1234" and current.card["data"]["keys"] == [str(csv)]
    assert current.card["data"]["rows"] == len(syn.ratings)
    bundle = model.loads(reg.model_bytes("v-job-1"))
    assert len(bundle.item_ids) == len(set(syn.ratings.item_ids.tolist()))

    # a retried job with the same version retrains nothing and reports the registered one
    status, logs = _run_job(ray_head, cmd, f"ml-pipeline-retry-{time.time_ns()}")
    assert status == JobStatus.SUCCEEDED, logs[-3000:]
    again = _summary(logs)
    assert again["already_registered"] is True and again["rmse"] == summary["rmse"]
    assert [v.version for v in reg.list_versions()] == ["v-job-1"]


def test_pipeline_reports_bad_data_with_exit_code_2(ray_head, tmp_path):
    status, logs = _run_job(
        ray_head,
        f"python -m sentinel.ml.pipeline --data {tmp_path / 'missing.csv'} --storage {tmp_path / 'm'} --version v-bad",
        f"ml-pipeline-bad-{time.time_ns()}",
    )
    assert status == JobStatus.FAILED
    assert "cannot read" in _summary(logs)["error"]
    assert registry.Registry(str(tmp_path / "m")).list_versions() == []


def test_pipeline_job_reads_and_writes_s3_through_an_endpoint_override(ray_head, tmp_path):
    import boto3
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        creds = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}
        s3 = boto3.client(
            "s3", endpoint_url=endpoint, region_name="us-east-1",
            aws_access_key_id="testing", aws_secret_access_key="testing",
        )  # fmt: skip
        s3.create_bucket(Bucket="ml-bucket")
        syn = data.synthetic(150, 100, seed=6)
        body = data.to_frame(syn.ratings).to_csv(index=False).encode()
        s3.put_object(Bucket="ml-bucket", Key="in/ratings.csv", Body=body)
        client = JobSubmissionClient(ray_head.dashboard_url)
        sid = f"ml-pipeline-s3-{time.time_ns()}"
        client.submit_job(
            entrypoint="python -m sentinel.ml.pipeline --data s3://ml-bucket/in/ratings.csv "
            "--storage s3://ml-bucket/models --version v-s3 --tune-trials 2 --max-epochs 2 --epochs 1 --promote",
            submission_id=sid,
            runtime_env={"env_vars": {**creds, "AWS_ENDPOINT_URL": endpoint}},
        )
        deadline = time.monotonic() + 420
        while not client.get_job_status(sid).is_terminal() and time.monotonic() < deadline:
            time.sleep(2)
        logs = client.get_job_logs(sid)
        assert client.get_job_status(sid) == JobStatus.SUCCEEDED, logs[-3000:]
        assert _summary(logs)["model_uri"] == "s3://ml-bucket/models/versions/v-s3/model.pt"
        keys = {o["Key"] for o in s3.list_objects_v2(Bucket="ml-bucket", Prefix="models/")["Contents"]}
        assert {"models/current.json", "models/versions/v-s3/model.pt", "models/versions/v-s3/model_card.json"} <= keys
        assert any(k.startswith("models/runs/train-v-s3-") for k in keys)  # Ray Train's checkpoints went to S3 too
        with pytest.MonkeyPatch.context() as mp:
            for k, v in creds.items():
                mp.setenv(k, v)
            reg = registry.Registry("s3://ml-bucket/models", endpoint_url=endpoint)
            assert reg.current().version == "v-s3"  # type: ignore[union-attr]
            assert reg.get("v-s3").card["data"]["keys"] == ["s3://ml-bucket/in/ratings.csv"]
    finally:
        server.stop()

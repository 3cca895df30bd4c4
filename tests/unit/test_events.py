"""The Event envelope and typed data: good events parse, bad ones are refused with a clear reason."""

from __future__ import annotations

import datetime as dt

import pytest

from sentinel.errors import PermanentError
from sentinel.events import envelope, types


def test_cloudevents_attributes_round_trip() -> None:
    ev = envelope.Event(source="sentinel/test", type=types.SLEEP, subject="training", data={"cluster": "training"})
    body = ev.to_json()
    assert body["specversion"] == "1.0"
    assert {"id", "source", "type", "time", "subject", "datacontenttype", "data"} <= body.keys()
    again = envelope.parse(ev.dumps())
    assert again == ev
    assert again.correlation_id == ev.id


def test_correlation_id_travels_to_children() -> None:
    ev = envelope.Event(source="s3", type=types.RETRAIN, data={"cluster": "training"}, correlationid="corr-1")
    child = ev.child(types.DEPLOY, {"cluster": "training"}, id="d1")
    assert child.correlationid == "corr-1" and child.source == "sentinel"


def test_naive_time_is_utc() -> None:
    ev = envelope.parse({"source": "x", "type": types.NOOP, "time": "2026-01-01T00:00:00"})
    assert ev.time.tzinfo is not None and ev.time.utcoffset() == dt.timedelta(0)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("{not json", "event is not valid JSON"),
        ("[1, 2]", "event must be a JSON object, not list"),
        ({"type": types.NOOP}, "invalid event: source: Field required"),
        ({"source": "x", "type": "Not A Type"}, "invalid event: type: type 'Not A Type' is not a reverse-DNS name"),
        (
            {"source": "x", "type": types.NOOP, "specversion": "0.3"},
            "invalid event: specversion: specversion must be '1.0'",
        ),
    ],
)
def test_malformed_envelopes(raw: object, reason: str) -> None:
    with pytest.raises(PermanentError) as exc:
        envelope.parse(raw)  # type: ignore[arg-type]
    assert str(exc.value).startswith(reason)


def test_unknown_type_is_permanent() -> None:
    ev = envelope.Event(source="x", type="com.example.other")
    with pytest.raises(PermanentError, match=r"unknown event type 'com\.example\.other'"):
        types.parse_data(ev)


def test_bad_data_names_the_field() -> None:
    ev = envelope.Event(source="x", type=types.SLEEP, data={"cluster": "bad name!"})
    with pytest.raises(PermanentError) as exc:
        types.parse_data(ev)
    assert str(exc.value) == "sentinel.schedule.sleep: invalid data: cluster: cluster name 'bad name!' is not valid"


def test_keepawake_needs_timezone() -> None:
    ev = envelope.Event(source="x", type=types.KEEP_AWAKE, data={"cluster": "training", "until": "2026-01-01T22:00:00"})
    with pytest.raises(PermanentError, match="until must carry a timezone"):
        types.parse_data(ev)


def test_every_type_routes_to_a_named_task_on_its_queue() -> None:
    for etype, route in types.ROUTES.items():
        area = route.task.split(".")[1]
        assert route.task.startswith("sentinel.") and route.queue in {"ops", "ml", "events"}, etype
        assert area in {"ops", "ml", "events"}
    assert types.route(types.S3_CREATED).model is types.S3CreatedData

"""Every line is one JSON object, Sentinel's and the libraries' alike; context travels; secrets never appear."""

from __future__ import annotations

import io
import json
import logging

from sentinel import logs


def test_lines_are_json_with_context_and_no_secrets() -> None:
    out = io.StringIO()
    logs.configure("INFO", stream=out)
    logs.clear()
    logs.bind(event_id="e-1", correlation_id="c-1", task="sentinel.ops.sleep")
    logs.get("sentinel.test").info("audit", kind="accepted", api_token="hunter2", slack_signature="v0=abc")
    logging.getLogger("celery.worker").warning("connection lost")
    logs.get("sentinel.test").debug("not shown at INFO")
    logs.clear()
    lines = [json.loads(x) for x in out.getvalue().splitlines()]
    assert len(lines) == 2
    ours, theirs = lines
    assert ours["event"] == "audit" and ours["event_id"] == "e-1" and ours["correlation_id"] == "c-1"
    assert ours["logger"] == "sentinel.test" and ours["level"] == "info" and "timestamp" in ours
    assert ours["api_token"] == "[redacted]" and ours["slack_signature"] == "[redacted]"
    assert "hunter2" not in out.getvalue()
    assert theirs["logger"] == "celery.worker" and theirs["level"] == "warning" and theirs["event_id"] == "e-1"

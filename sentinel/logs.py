"""structlog JSON to stdout; stdlib loggers (celery, boto3, kubernetes) routed through the same renderer.

Call :func:`configure` once at process start (CLI, worker). Context (``event_id``, ``correlation_id``,
``task``) is bound with :func:`bind` and travels with every line through ``merge_contextvars``.
"""

from __future__ import annotations

import functools
import logging
import sys
from collections.abc import MutableMapping
from typing import Any, TextIO, cast

import structlog

_SECRET_HINTS = ("secret", "token", "signature", "password", "authorization")


@functools.lru_cache(maxsize=4096)
def _secretish(key: str) -> bool:
    lowered = key.lower()
    return any(h in lowered for h in _SECRET_HINTS)


def _redact(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key in [k for k in event_dict if _secretish(k)]:
        event_dict[key] = "[redacted]"
    return event_dict


_SHARED: list[Any] = [
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
    _redact,
    structlog.processors.format_exc_info,
]

_configured = False


class _Std:
    """A file that is whatever ``sys.stdout`` (or ``sys.stderr``) is at the moment of writing."""

    def __init__(self, err: bool) -> None:
        self.err = err

    def _f(self) -> Any:
        return sys.stderr if self.err else sys.stdout

    def write(self, text: str) -> int:
        return int(self._f().write(text))

    def flush(self) -> None:
        self._f().flush()


def configure(level: str = "INFO", *, stream: Any = None) -> None:
    """Sentinel's own lines go straight from structlog to the stream (no stdlib ``LogRecord`` on the hot path);
    stdlib loggers (celery, boto3, kubernetes) reach the same stream through ``ProcessorFormatter``, same shape."""
    global _configured
    stream = stream or sys.stdout
    # sys.stdout / sys.stderr are looked up at each write (pytest and daemons swap them); other streams are kept.
    sink = _Std(stream is sys.stderr) if stream in (sys.stdout, sys.stderr) else stream
    numeric = logging.getLevelName(level.upper())
    numeric = numeric if isinstance(numeric, int) else logging.INFO
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            _logger_name,
            _SHARED[3],  # the timestamp
            _redact,
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(),
        ],
        logger_factory=structlog.WriteLoggerFactory(file=cast(TextIO, sink)),
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=_SHARED,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.JSONRenderer(),
        ],
    )
    handler = logging.StreamHandler(sink)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # celery.app.trace / celery.worker.strategy log "received" and "succeeded" per task at INFO: the audit's
    # canonical line says the same, so they are kept to warnings and errors.
    for noisy in ("botocore", "boto3", "urllib3", "kubernetes", "kombu", "s3transfer", "celery.app.trace",
                  "celery.worker.strategy"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
    _configured = True


def get(name: str = "sentinel") -> Any:
    return structlog.get_logger(name, logger_name=name)


def _logger_name(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """Sentinel's own lines carry ``logger`` like the stdlib ones do."""
    if "logger_name" in event_dict:
        event_dict["logger"] = event_dict.pop("logger_name")
    return event_dict


def bind(**values: Any) -> None:
    structlog.contextvars.bind_contextvars(**values)


def clear() -> None:
    structlog.contextvars.clear_contextvars()

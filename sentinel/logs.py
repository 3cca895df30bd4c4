"""structlog JSON to stdout; stdlib loggers (celery, boto3, kubernetes) routed through the same renderer.

Call :func:`configure` once at process start (CLI, worker). Context (``event_id``, ``correlation_id``,
``task``) is bound with :func:`bind` and travels with every line through ``merge_contextvars``.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import structlog

_SECRET_HINTS = ("secret", "token", "signature", "password", "authorization")


def _redact(_: Any, __: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    for key in list(event_dict):
        if any(h in key.lower() for h in _SECRET_HINTS):
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


def configure(level: str = "INFO", *, stream: Any = None) -> None:
    global _configured
    stream = stream or sys.stdout
    structlog.configure(
        processors=[*_SHARED, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=_SHARED,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.JSONRenderer(),
        ],
    )
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("botocore", "boto3", "urllib3", "kubernetes", "kombu", "s3transfer"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
    _configured = True


def get(name: str = "sentinel") -> Any:
    return structlog.stdlib.get_logger(name)


def bind(**values: Any) -> None:
    structlog.contextvars.bind_contextvars(**values)


def clear() -> None:
    structlog.contextvars.clear_contextvars()

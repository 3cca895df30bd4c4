"""One error vocabulary for every boundary.

Adapters translate SDK errors (botocore ``ClientError``, ``kubernetes.client.ApiException``,
Ray's errors) into these two, ``raise ... from e``; playbooks and tasks only ever see them.
"""

from __future__ import annotations

MAX_DETAIL = 300


def shorten(text: object, limit: int = MAX_DETAIL) -> str:
    """Cut a payload short before it reaches a log or an audit record."""
    s = str(text)
    return s if len(s) <= limit else s[: limit - 1] + "…"


class SentinelError(Exception):
    """Base of every error Sentinel raises on purpose."""


class TransientError(SentinelError):
    """Throttling, 5xx, 409 conflicts, timeouts: retry with backoff."""


class PermanentError(SentinelError):
    """404, validation, forbidden: never retried, dead-lettered with the reason."""


class ConfigError(PermanentError):
    """The configuration file is invalid; the message names the file and the field."""

"""``sentinel.yaml``: one declarative file, validated; ``SENTINEL_*`` env vars override; secrets from env.

Load with :func:`load`. A bad file raises :class:`~sentinel.errors.ConfigError` whose message names the
file and the field, e.g. ``sentinel.yaml: clusters.training.nodegroups.managed-ng-1.awake: desired (5)
is above max (4)``. Nothing here reads the environment at import time.
"""

from sentinel.config.embedded import EMBEDDED
from sentinel.config.loading import (
    DEFAULT_PATH,
    ENV_CONFIG,
    ENV_OVERRIDES,
    SECRET_KEYS,
    Secrets,
    from_mapping,
    load,
    resolve_path,
    secrets,
    summary,
)
from sentinel.config.models import (
    ChatOps,
    Cluster,
    Config,
    DateRange,
    Duration,
    MLSettings,
    NodeGroup,
    RayEndpoints,
    RetryPolicy,
    S3Trigger,
    Schedule,
    Sizes,
    parse_duration,
)

__all__ = [
    "DEFAULT_PATH", "EMBEDDED", "ENV_CONFIG", "ENV_OVERRIDES", "SECRET_KEYS", "ChatOps", "Cluster", "Config",
    "DateRange", "Duration", "MLSettings", "NodeGroup", "RayEndpoints", "RetryPolicy", "S3Trigger", "Schedule",
    "Secrets", "Sizes", "from_mapping", "load", "parse_duration", "resolve_path", "secrets", "summary",
]

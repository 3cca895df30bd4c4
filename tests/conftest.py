"""Fixture plugins, one module per real component (redis-server, sandbox, Ray head)."""

import importlib.util

pytest_plugins = [
    name
    for name in ("tests.fixtures.redis", "tests.fixtures.sandbox", "tests.fixtures.ray_head", "tests.fixtures.moto_s3")
    if importlib.util.find_spec(name) is not None
]

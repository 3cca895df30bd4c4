"""The ``sentinel`` command."""

from sentinel.cli.main import app, main

__all__ = ["app", "main"]

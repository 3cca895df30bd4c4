"""The ``sentinel`` command (``sentinel.cli.main:main``)."""

"""Serving commands of the ``assist`` CLI (serve, casebook, users, audit-log).

The CLI is the composition root: the commands live in :mod:`assist.serving.cli`. This is the
one place pipelines reaches up into serving, declared as the single exception to the layer
contract in ``pyproject.toml`` (``[tool.importlinter]``, ``ignore_imports``); all library code
keeps the direction ``serving -> pipelines -> models -> features``.
"""

from __future__ import annotations

import typer


def register_serving_commands(app: typer.Typer) -> None:
    """Add the serving commands to the ``assist`` app."""
    from assist.pipelines.cli import _settings, out, user_errors
    from assist.serving.cli import register

    register(app, settings=_settings, out=out, user_errors=user_errors)

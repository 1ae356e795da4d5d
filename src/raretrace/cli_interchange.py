"""`raretrace` commands for this area (registered from cli.py)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add this area's commands to the main application."""

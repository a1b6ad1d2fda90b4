"""`morpho stats` (not built yet)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Register this module's commands on the root app (placeholder until built)."""

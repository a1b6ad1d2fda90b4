"""Locate files shipped with morpho (the default model), installed or editable."""

from __future__ import annotations

from importlib import resources
from pathlib import Path


def models_dir() -> Path:
    """The folder holding the shipped models.

    A wheel carries ``models/`` as ``morpho/_models`` (hatch force-include); an editable
    install finds the checkout's ``models/`` next to the package.
    """
    packaged = Path(str(resources.files("morpho").joinpath("_models")))
    if packaged.is_dir():
        return packaged
    return Path(str(resources.files("morpho"))).parent / "models"


def shared_data_dir() -> Path:
    """``../shared/data`` relative to the project root (used by tests and analysis)."""
    return Path(str(resources.files("morpho"))).parent.parent / "shared" / "data"

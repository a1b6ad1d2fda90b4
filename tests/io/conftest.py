"""Fixtures for the reader tests: DICOM files written in code."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from dicom_factory import make_dataset


@pytest.fixture
def dicom_file(tmp_path: Path) -> Callable[..., Path]:
    """Factory: ``dicom_file(pixels=None, name='x.dcm', **tags)`` -> path of a written DICOM."""
    counter = iter(range(10_000))

    def write(pixels: np.ndarray | None = None, name: str | None = None, **tags) -> Path:
        ds = make_dataset(pixels, **tags)
        path = tmp_path / (name or f"image{next(counter)}.dcm")
        ds.save_as(path, enforce_file_format=True)
        return path

    return write

"""Every DICOM in pydicom's own test data is read or refused with a MorphoError, nothing else."""

from __future__ import annotations

from pathlib import Path

import pydicom.data
import pytest
from pydicom.misc import is_dicom

from morpho.errors import MorphoError
from morpho.io import read_radiograph

ROOT = Path(pydicom.data.__file__).parent / "test_files"
FILES = sorted(p for p in ROOT.rglob("*") if p.is_file() and (p.suffix == ".dcm" or is_dicom(p)))


@pytest.mark.skipif(len(FILES) < 50, reason="pydicom's test files are not installed")
def test_every_pydicom_test_file_is_read_or_cleanly_refused():
    read, refused = 0, 0
    for path in FILES:
        try:
            image = read_radiograph(path)
        except MorphoError as exc:
            assert exc.path == str(path) and exc.cause and "\n" not in exc.cause
            refused += 1
        else:
            assert image.pixels.ndim == 2 and 0 <= image.pixels.min() < image.pixels.max() <= 1
            read += 1
    assert read >= 15 and read + refused == len(FILES)

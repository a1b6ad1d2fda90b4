"""Atomic file writes: a temporary file in the same folder, then one ``os.replace``.

A reader never sees a half-written file, and a killed process leaves only a hidden
``.<name>.*.tmp`` file that the next run may delete.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

TMP_PREFIX = "."
TMP_SUFFIX = ".tmp"


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write(path: str | Path, write: Callable[[Path], object]) -> Path:
    """Call ``write(tmp)`` on a temporary path beside ``path``, then rename it into place.

    The temporary name keeps the final suffix (so writers that infer the format from it,
    like cv2.imwrite or DataFrame.to_parquet, work), and the file gets the usual
    permissions (``0o666`` less the umask), not mkstemp's private ``0o600``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(
        prefix=f"{TMP_PREFIX}{path.name}.", suffix=f"{TMP_SUFFIX}{path.suffix}", dir=path.parent
    )
    os.close(fd)
    tmp = Path(name)
    try:
        write(tmp)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def write_text(path: str | Path, text: str) -> Path:
    """Write text atomically."""
    return atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def write_bytes(path: str | Path, data: bytes) -> Path:
    """Write bytes atomically."""
    return atomic_write(path, lambda tmp: tmp.write_bytes(data))


def write_png(path: str | Path, image: np.ndarray) -> Path:
    """Write an 8- or 16-bit (gray or BGR) PNG atomically."""
    import cv2

    ok, encoded = cv2.imencode(".png", image)
    if not ok:
        raise OSError(f"could not encode PNG for {path}")
    return write_bytes(path, encoded.tobytes())

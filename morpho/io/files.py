"""Which files in a folder are images: the one rule every command and the batch runner use."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

# DICOM files often have no suffix; files named explicitly are always read, whatever theirs.
IMAGE_SUFFIXES = frozenset(
    {".dcm", ".dicom", ".dic", ".ima", ".png", ".jpg", ".jpeg", ".tif", ".tiff", ""}
)


def is_image_name(path: Path) -> bool:
    """True for a visible file whose suffix is an image suffix."""
    return not path.name.startswith(".") and path.suffix.lower() in IMAGE_SUFFIXES


def find_images(folder: Path, recursive: bool = True) -> Iterator[Path]:
    """The image files under ``folder`` (not inside hidden folders), sorted."""
    folder = Path(folder)
    candidates = folder.rglob("*") if recursive else folder.glob("*")
    for path in sorted(candidates):
        hidden = any(part.startswith(".") for part in path.relative_to(folder).parts)
        if path.is_file() and not hidden and is_image_name(path):
            yield path

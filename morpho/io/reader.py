"""``read_radiograph``: one entry point for DICOM, PNG, JPEG and TIFF files."""

from __future__ import annotations

from pathlib import Path

from morpho.errors import MorphoError
from morpho.io.dicom import read_dicom
from morpho.io.images import read_image
from morpho.io.radiograph import Radiograph

_SIGNATURES = {
    b"\x89PNG\r\n\x1a\n": "png",
    b"\xff\xd8\xff": "jpeg",
    b"II*\x00": "tiff",
    b"MM\x00*": "tiff",
    b"II+\x00": "tiff",
    b"MM\x00+": "tiff",
}
_DICOM_SUFFIXES = {".dcm", ".dicom", ".dic", ""}


def file_kind(path: str | Path) -> str:
    """'dicom', 'png', 'jpeg' or 'tiff' from the file's first bytes (or its suffix)."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            head = f.read(132)
    except OSError as exc:
        raise MorphoError(path, f"cannot read file: {exc.strerror or exc}") from None
    if not head:
        raise MorphoError(path, "empty file")
    if head[128:132] == b"DICM":  # first: a DICOM preamble may itself look like a TIFF
        return "dicom"
    for signature, kind in _SIGNATURES.items():
        if head.startswith(signature):
            return kind
    if path.suffix.lower() in _DICOM_SUFFIXES:
        return "dicom"  # suffix-less files are tried as DICOM without a preamble
    raise MorphoError(path, "not an image file (not DICOM, PNG, JPEG or TIFF)")


def read_radiograph(path: str | Path) -> Radiograph:
    """Read a radiograph file into a :class:`Radiograph` (pixels float32 in [0, 1], bone bright).

    Raises :class:`morpho.errors.MorphoError` naming the file and the cause for any bad input.
    """
    kind = file_kind(path)
    if kind == "dicom":
        return read_dicom(path)
    return read_image(path, kind)

"""Decode at reduced resolution where the codec allows it, with exact coordinate mapping.

A segmentation network sees a few hundred pixels a side; a radiograph has thousands.
JPEG 2000 stores resolution levels (openjpeg's ``reduce``, through Pillow) and baseline
JPEG can scale its DCT (libjpeg, through ``cv2.IMREAD_REDUCED_GRAYSCALE_k``), so both can
decode at 1/2, 1/4 or 1/8 of the size for a fraction of the work. :func:`read_reduced`
does that when it can and returns ``None`` otherwise (use :func:`morpho.io.read_radiograph`,
the full-resolution path). :class:`Reduction` maps points and masks back to ORIGINAL pixels.

Sample positions differ by codec: a JPEG 2000 low-pass sample ``n`` sits on original pixel
``n * k`` (the wavelet's low band is centred on the even samples); a DCT-scaled JPEG sample
sits at the centre of its ``k`` pixels, ``(n + 0.5) * k - 0.5``.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image
from pydicom.encaps import generate_frames
from pydicom.uid import JPEG2000, JPEG2000Lossless

from morpho.errors import MorphoError
from morpho.io.checks import check_dimensions, check_not_constant
from morpho.io.dicom import GRAY, dicom_to_array, read_dicom_dataset
from morpho.io.header import header_facts
from morpho.io.radiograph import Radiograph
from morpho.io.reader import file_kind
from morpho.io.spacing import dicom_spacing

JPEG_FLAGS = {
    2: cv2.IMREAD_REDUCED_GRAYSCALE_2,
    4: cv2.IMREAD_REDUCED_GRAYSCALE_4,
    8: cv2.IMREAD_REDUCED_GRAYSCALE_8,
}
J2K_SYNTAXES = (JPEG2000Lossless, JPEG2000)
MAX_J2K_FACTOR = 8


@dataclass(frozen=True)
class Reduction:
    """Reduced pixel (x, y) <-> original pixel: ``original = reduced * factor + offset``."""

    factor: int
    offset: float
    original_shape: tuple[int, int]  # (rows, columns)

    def to_original(self, xy: np.ndarray) -> np.ndarray:
        """(N, 2) x, y in reduced pixels -> original pixels."""
        return np.asarray(xy, dtype=np.float64) * self.factor + self.offset

    def to_reduced(self, xy: np.ndarray) -> np.ndarray:
        """(N, 2) x, y in original pixels -> reduced pixels."""
        return (np.asarray(xy, dtype=np.float64) - self.offset) / self.factor

    def map_to_original(self, values: np.ndarray) -> np.ndarray:
        """A reduced-size map (probabilities, or a mask) -> float32 at the original size.

        Every original pixel takes the bilinear value at its exact reduced position. Map
        probabilities, then threshold: the outline is then as smooth as a full-size one.
        """
        inverse = np.float64([[1, 0, -self.offset], [0, 1, -self.offset]]) / self.factor
        rows, columns = self.original_shape
        return cv2.warpAffine(
            values.astype(np.float32),
            inverse,
            (columns, rows),
            flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
            borderMode=cv2.BORDER_REPLICATE,
        )


@dataclass
class Reduced:
    """A radiograph decoded at reduced size.

    ``radiograph.pixels`` are reduced; every other field (spacing included) describes the
    ORIGINAL image, which has ``reduction.original_shape``.
    """

    radiograph: Radiograph
    reduction: Reduction


Needed = tuple[int, int] | Callable[[tuple[int, int]], tuple[int, int]]


def reduction_factor(shape: tuple[int, int], needed: Needed, limit: int = 8) -> int:
    """The largest power of two (<= ``limit``) that keeps at least ``needed`` (rows, columns);
    ``needed`` may be a function of the original (rows, columns)."""
    if callable(needed):
        needed = needed(shape)
    factor = 1
    while (
        factor * 2 <= limit
        and shape[0] // (factor * 2) >= needed[0]
        and shape[1] // (factor * 2) >= needed[1]
    ):
        factor *= 2
    return factor


def read_reduced(path: str | Path, needed: Needed) -> Reduced | None:
    """Decode ``path`` at the smallest power-of-two reduction that keeps ``needed`` pixels
    (rows, columns), or ``needed(original rows, columns)`` for a function.

    Returns ``None`` when the codec cannot reduce (PNG, TIFF, uncompressed or other DICOM) or
    the image is already small; raises :class:`MorphoError` for a bad file.
    """
    kind = file_kind(path)
    if kind == "jpeg":
        return _read_jpeg(Path(path), needed)
    if kind == "dicom":
        return _read_dicom_j2k(Path(path), needed)
    return None


def _read_jpeg(path: Path, needed: Needed) -> Reduced | None:
    try:
        with Image.open(path) as header:
            columns, rows = header.size
            if header.mode != "L" or header.info.get("progressive"):  # others: full path
                return None
    except (OSError, Image.DecompressionBombError, SyntaxError, ValueError) as exc:
        raise MorphoError(path, f"corrupt image header: {exc}") from None
    check_dimensions(path, rows, columns)
    factor = reduction_factor((rows, columns), needed)
    if factor == 1:
        return None
    values = cv2.imread(str(path), JPEG_FLAGS[factor])
    if values is None:
        raise MorphoError(path, "corrupt or truncated image data")
    check_not_constant(path, values)
    radiograph = Radiograph(
        pixels=values.astype(np.float32) / 255.0,
        photometric="MONOCHROME2",
        bits_stored=8,
        path=str(path),
        image_id=path.stem,
    )
    return Reduced(radiograph, Reduction(factor, (factor - 1) / 2, (rows, columns)))


def _read_dicom_j2k(path: Path, needed: Needed) -> Reduced | None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = read_dicom_dataset(path)
        syntax = getattr(ds, "file_meta", {}).get("TransferSyntaxUID")
        if (
            syntax not in J2K_SYNTAXES
            or "PixelData" not in ds
            or ds.get("PhotometricInterpretation") not in GRAY
            or int(ds.get("SamplesPerPixel") or 1) != 1
        ):
            return None
        rows, columns = int(ds.get("Rows") or 0), int(ds.get("Columns") or 0)
        check_dimensions(path, rows, columns, int(ds.get("NumberOfFrames") or 1))
        factor = reduction_factor((rows, columns), needed, MAX_J2K_FACTOR)
        if factor == 1:
            return None
        stored = _decode_j2k(path, ds, factor)
        check_not_constant(path, stored)
        pixels = dicom_to_array(ds, stored)
    spacing, source = dicom_spacing(ds)
    radiograph = Radiograph(
        pixels=pixels,
        spacing_mm=spacing,
        spacing_source=source,
        photometric=str(ds.PhotometricInterpretation),
        bits_stored=int(ds.get("BitsStored") or 16),
        path=str(path),
        image_id=path.stem,
        **header_facts(ds),
    )
    return Reduced(radiograph, Reduction(factor, 0.0, (rows, columns)))


def _decode_j2k(path: Path, ds, factor: int) -> np.ndarray:
    """The stored values of a single-frame JPEG 2000 DICOM at 1/``factor`` resolution."""
    try:
        frame = next(generate_frames(ds.PixelData, number_of_frames=1))
        with Image.open(io.BytesIO(frame)) as image:
            image.reduce = int(np.log2(factor))
            image.load()
            values = np.asarray(image)
    except (OSError, ValueError, SyntaxError, StopIteration, KeyError) as exc:
        raise MorphoError(path, f"corrupt or truncated pixel data: {exc}") from None
    bits = int(ds.get("BitsStored") or 16)
    if values.dtype == np.uint16 and bits < 16:
        values = values >> (16 - bits)  # Pillow scales n-bit samples up to 16 bits
    if int(ds.get("PixelRepresentation") or 0):
        values = values.astype(np.int32) - (values >= 2 ** (bits - 1)) * 2**bits
    return values

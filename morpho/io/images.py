"""PNG, JPEG and TIFF radiographs (8 or 16 bit; equal-channel RGB read as gray)."""

from __future__ import annotations

import warnings
from pathlib import Path

import cv2
import numpy as np
import tifffile
from PIL import Image

from morpho.errors import MorphoError
from morpho.io.checks import check_dimensions, check_not_constant, to_gray
from morpho.io.radiograph import Radiograph

# a broken file gets one error line from morpho, not OpenCV's own warnings as well
cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)

# a gray image saved as lossy RGB JPEG has channels a little apart
_GRAY_TOLERANCE = {"jpeg": 3}


def _scaled(path: Path, values: np.ndarray) -> np.ndarray:
    """float32 in [0, 1]: integers over their type's maximum, floats over min..max."""
    check_not_constant(path, values)
    if np.issubdtype(values.dtype, np.integer):
        info = np.iinfo(values.dtype)
        return ((values.astype(np.float64) - info.min) / (info.max - info.min)).astype(np.float32)
    values = values.astype(np.float64)
    return ((values - values.min()) / np.ptp(values)).astype(np.float32)


def _read_png_jpeg(path: Path) -> np.ndarray:
    """Decode with OpenCV after checking the size from the header (Pillow opens lazily)."""
    try:
        with Image.open(path) as header:
            columns, rows = header.size
            frames = getattr(header, "n_frames", 1)
    except Image.DecompressionBombError as exc:
        raise MorphoError(path, f"image too large, refused before decoding: {exc}") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise MorphoError(path, f"corrupt image header: {exc}") from None
    check_dimensions(path, rows, columns, frames)
    values = cv2.imdecode(np.fromfile(path, dtype=np.uint8), cv2.IMREAD_UNCHANGED)
    if values is None:
        raise MorphoError(path, "corrupt or truncated image data")
    return values


def _read_tiff(path: Path) -> tuple[np.ndarray, bool]:
    """Decode the first series after checking its shape; True when MINISWHITE (invert)."""
    try:
        with tifffile.TiffFile(path) as tif:
            page = tif.pages[0]
            check_dimensions(path, page.imagelength, page.imagewidth, len(tif.pages))
            inverted = page.photometric == tifffile.PHOTOMETRIC.MINISWHITE
            values = page.asarray()
            if page.axes.startswith("S"):  # planar samples: put the channels last
                values = np.moveaxis(values, 0, -1)
            return values, inverted
    except MorphoError:
        raise
    except Exception as exc:  # noqa: BLE001 - tifffile raises many kinds on a broken file
        raise MorphoError(path, f"corrupt or truncated TIFF: {exc}") from None


def read_image(path: str | Path, kind: str) -> Radiograph:
    """Read a PNG, JPEG or TIFF (``kind`` is 'png', 'jpeg' or 'tiff') into a Radiograph."""
    path = Path(path)
    inverted = False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if kind == "tiff":
            values, inverted = _read_tiff(path)
        else:
            values = _read_png_jpeg(path)
    channels = 1 if values.ndim == 2 else values.shape[2]
    values = to_gray(path, values, tolerance=_GRAY_TOLERANCE.get(kind, 0))
    pixels = _scaled(path, values)
    if inverted:
        pixels = 1.0 - pixels
    return Radiograph(
        pixels=pixels,
        photometric="MONOCHROME1" if inverted else ("MONOCHROME2" if channels < 3 else "RGB"),
        bits_stored=values.dtype.itemsize * 8,
        path=str(path),
        image_id=path.stem,
    )

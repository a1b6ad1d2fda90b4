"""Checks that refuse bad inputs with one clear cause (raised as ``MorphoError``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from pydicom.pixels import get_decoder
from pydicom.uid import UID

from morpho.errors import MorphoError

MIN_SIDE = 64
MAX_PIXELS = 100_000_000


def check_dimensions(path: str | Path, rows: int, columns: int, frames: int = 1) -> None:
    """Refuse multi-frame, tiny or huge images from their header, before decoding."""
    if frames > 1:
        raise MorphoError(path, f"multi-frame image ({frames} frames); one 2-D image expected")
    if rows * columns > MAX_PIXELS:
        raise MorphoError(
            path,
            f"image too large: {columns}x{rows} = {rows * columns / 1e6:.0f} megapixels "
            f"(limit {MAX_PIXELS // 1_000_000}); refused before decoding",
        )
    if min(rows, columns) < MIN_SIDE:
        raise MorphoError(
            path, f"image too small: {columns}x{rows} px (at least {MIN_SIDE} px a side)"
        )


def check_not_constant(path: str | Path, pixels: np.ndarray) -> None:
    """Refuse an image whose pixels all have one value."""
    low, high = np.nanmin(pixels), np.nanmax(pixels)
    if low == high:
        raise MorphoError(path, f"constant image (every pixel is {low:g})")


def to_gray(path: str | Path, pixels: np.ndarray, tolerance: float) -> np.ndarray:
    """A 2-D image from one with channels: equal colour channels are gray, else refused.

    An alpha channel is dropped. ``tolerance`` is the largest channel difference still
    called equal (lossy JPEG rounds the channels of a gray image slightly apart).
    """
    if pixels.ndim == 2:
        return pixels
    if pixels.ndim != 3:
        raise MorphoError(path, f"expected a 2-D image, got an array of shape {pixels.shape}")
    channels = pixels.shape[2]
    if channels in (2, 4):
        pixels = pixels[..., : channels - 1]
    if pixels.shape[2] == 1:
        return pixels[..., 0]
    spread = np.ptp(pixels.astype(np.float32), axis=2).max()
    if spread > tolerance:
        raise MorphoError(path, "colour image (channels differ); a grayscale radiograph is needed")
    return pixels[..., 0]


def check_decoder(path: str | Path, syntax: UID | None) -> None:
    """Refuse a compressed transfer syntax that no installed plugin decodes, naming the
    packages that would."""
    if syntax is None or not syntax.is_compressed:
        return
    try:
        decoder = get_decoder(syntax)
    except NotImplementedError:
        raise MorphoError(path, f"no decoder exists for {syntax.name}") from None
    if not decoder.is_available:
        needs = "; ".join(decoder.missing_dependencies)
        raise MorphoError(path, f"no decoder installed for {syntax.name}; install: {needs}")

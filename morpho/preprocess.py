"""Network input preparation as the study did it: CLAHE, then bilinear resize.

``prepare`` returns the network array and a ``Transform`` that maps masks and points back to
ORIGINAL image pixels exactly (same pixel-centre convention as ``cv2.resize``).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Literal

import cv2
import numpy as np

Aspect = Literal["stretch", "pad", "fit", "budget"]
Resize = Literal["area", "bilinear"]
RESIZE_FLAGS = {"area": cv2.INTER_AREA, "bilinear": cv2.INTER_LINEAR}
MULTIPLE = 32  # network sizes are multiples of the U-Net's total stride


@dataclass(frozen=True)
class PreprocessConfig:
    """Network size (rows, columns), CLAHE settings and aspect handling.

    ``stretch`` resizes to height x width; ``pad`` keeps the aspect inside height x width;
    ``fit`` keeps the aspect too but the canvas is height x (the content width rounded up to
    a multiple of 32, at most ``width``), so tall spines and square chests share one scale.
    ``budget`` keeps the aspect and scales the image to about height x width pixels in all
    (each side at most twice its nominal size; canvas sides rounded up to multiples of 32):
    a tall, narrow spine film gets more rows than a square chest film at equal compute, so
    bodies come out at similar network sizes in both.
    ``resize`` is how the image is shrunk: ``area`` averages (no aliasing, so a film decoded
    at half size gives nearly the same input); ``bilinear`` samples, as the study did.
    A config without the key (models trained before the option) means ``bilinear``.
    """

    height: int = 512
    width: int = 512
    clahe_clip: float = 2.0
    clahe_tile: int = 8
    aspect: Aspect = "fit"
    resize: Resize = "area"

    def __post_init__(self) -> None:
        if self.resize not in RESIZE_FLAGS:
            raise ValueError(f"unknown resize {self.resize!r} (area or bilinear)")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> PreprocessConfig:
        return cls(**{"resize": "bilinear", **{
            k: data[k] for k in cls.__dataclass_fields__ if k in data}})


@dataclass(frozen=True)
class Transform:
    """Original image -> network array: scale each axis, then offset (padding)."""

    original_shape: tuple[int, int]
    network_shape: tuple[int, int]
    scale: tuple[float, float]  # (row, column) network px per original px
    offset: tuple[int, int]  # (top, left) padding in network px
    content_shape: tuple[int, int]  # resized image size inside the network array

    def points_to_network(self, xy: np.ndarray) -> np.ndarray:
        """(N, 2) x, y in original pixels -> network pixels."""
        xy = np.asarray(xy, dtype=np.float64)
        sy, sx = self.scale
        top, left = self.offset
        return np.stack([(xy[:, 0] + 0.5) * sx - 0.5 + left, (xy[:, 1] + 0.5) * sy - 0.5 + top], 1)

    def points_to_original(self, xy: np.ndarray) -> np.ndarray:
        """(N, 2) x, y in network pixels -> original pixels (exact inverse)."""
        xy = np.asarray(xy, dtype=np.float64)
        sy, sx = self.scale
        top, left = self.offset
        return np.stack([(xy[:, 0] - left + 0.5) / sx - 0.5, (xy[:, 1] - top + 0.5) / sy - 0.5], 1)

    def to_original(self, array: np.ndarray) -> np.ndarray:
        """A network-size map (probability or mask) -> original size, bilinear.

        Threshold the result at 0.5 for a mask: a binary mask resized forward and back then lands
        on the original pixels up to the boundary rounding of the two resamplings.
        """
        top, left = self.offset
        ch, cw = self.content_shape
        crop = np.ascontiguousarray(array[top : top + ch, left : left + cw], dtype=np.float32)
        h, w = self.original_shape
        return cv2.resize(crop, (w, h), interpolation=cv2.INTER_LINEAR)

    def to_network(self, array: np.ndarray, interpolation: int = cv2.INTER_LINEAR) -> np.ndarray:
        """An original-size map -> network size (same placement as the image)."""
        ch, cw = self.content_shape
        resized = cv2.resize(array, (cw, ch), interpolation=interpolation)
        out = np.zeros(self.network_shape + resized.shape[2:], dtype=resized.dtype)
        top, left = self.offset
        out[top : top + ch, left : left + cw] = resized
        return out


@dataclass(frozen=True)
class Prepared:
    """The network input (float32 in [0, 1], network size) and its transform."""

    array: np.ndarray
    transform: Transform


def to_uint8(pixels: np.ndarray) -> np.ndarray:
    """Any-depth grayscale (or the reader's float [0, 1]) -> uint8 by min/max scaling."""
    pixels = np.asarray(pixels)
    if pixels.ndim == 3:
        pixels = pixels.mean(axis=2)
    values = pixels.astype(np.float32)
    lo, hi = float(values.min()), float(values.max())
    if hi <= lo:
        return np.zeros(values.shape, dtype=np.uint8)
    return np.round((values - lo) * (255.0 / (hi - lo))).astype(np.uint8)


def make_transform(shape: tuple[int, int], config: PreprocessConfig) -> Transform:
    """The transform from an image of ``shape`` to the network array."""
    h, w = int(shape[0]), int(shape[1])
    H, W = config.height, config.width
    if config.aspect == "stretch":
        ch, cw, top, left = H, W, 0, 0
    elif config.aspect in ("pad", "fit"):
        s = min(H / h, W / w)
        ch, cw = max(1, min(H, round(h * s))), max(1, min(W, round(w * s)))
        if config.aspect == "fit":
            W = min(W, -(-cw // MULTIPLE) * MULTIPLE)
        top, left = (H - ch) // 2, (W - cw) // 2
    elif config.aspect == "budget":
        s = min(math.sqrt(H * W / (h * w)), 2 * H / h, 2 * W / w)
        ch, cw = max(1, round(h * s)), max(1, round(w * s))
        H, W = -(-ch // MULTIPLE) * MULTIPLE, -(-cw // MULTIPLE) * MULTIPLE
        top, left = (H - ch) // 2, (W - cw) // 2
    else:
        raise ValueError(f"unknown aspect {config.aspect!r} (stretch, pad, fit or budget)")
    return Transform((h, w), (H, W), (ch / h, cw / w), (top, left), (ch, cw))


def clahe(image: np.ndarray, config: PreprocessConfig) -> np.ndarray:
    """Contrast-limited adaptive histogram equalisation on a uint8 image."""
    tool = cv2.createCLAHE(clipLimit=config.clahe_clip, tileGridSize=(config.clahe_tile,) * 2)
    return tool.apply(image)


def equalised(pixels: np.ndarray, config: PreprocessConfig) -> np.ndarray:
    """The film as the networks see it before resizing: 8-bit, CLAHE'd at its own size."""
    return clahe(to_uint8(pixels), config)


def prepare(pixels: np.ndarray, config: PreprocessConfig) -> Prepared:
    """CLAHE at the original resolution, then resize (area or bilinear) to the network."""
    image = equalised(pixels, config)
    transform = make_transform(image.shape, config)
    array = transform.to_network(image.astype(np.float32) / 255.0, RESIZE_FLAGS[config.resize])
    return Prepared(array=array, transform=transform)

"""A lateral spine phantom (bright boxes, one wedged) and a threshold 'segmenter'."""

from __future__ import annotations

import functools

import cv2
import numpy as np

from morpho.batch.chain import ChainWorker


def phantom(rows: int = 900, cols: int = 500, wedge_at: int = 5, seed: int = 0) -> np.ndarray:
    """float32 in [0, 1]: nine vertebral bodies down a gentle curve; body ``wedge_at`` wedged."""
    rng = np.random.default_rng(seed)
    image = np.full((rows, cols), 0.2, np.float32)
    top = rows * 0.09
    height, width = rows * 0.067, cols * 0.16
    for i in range(9):
        x0 = cols * 0.4 + cols * 0.04 * np.sin(i / 3)
        corners = np.array([[x0, top], [x0 + width, top], [x0 + width, top + height],
                            [x0, top + height]], np.float32)  # fmt: skip
        if i == wedge_at:
            corners[0, 1] += 0.4 * height  # anterior (left) upper corner pushed down
        cv2.fillPoly(image, [np.round(corners).astype(np.int32)], 0.85)
        top += height + rows * 0.02
    image += rng.normal(0, 0.02, image.shape).astype(np.float32)
    return np.clip(image, 0, 1)


class ThresholdSegmenter:
    """Stands in for the U-Net: bone is whatever is brighter than half."""

    model_version = "threshold-test"

    def __init__(self, model_path: str | None = None):
        self.model_path = model_path

    def predict(self, pixels: np.ndarray) -> np.ndarray:
        return pixels > 0.5


#: The real chain with the threshold segmenter (picklable, for worker processes).
threshold_chain = functools.partial(ChainWorker, segmenter_factory=ThresholdSegmenter)

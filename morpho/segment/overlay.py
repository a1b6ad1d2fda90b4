"""Mask pictures: outlines drawn over the radiograph (truth red, prediction blue)."""

from __future__ import annotations

import cv2
import numpy as np

from morpho.preprocess import to_uint8

RED, BLUE = (0, 0, 255), (255, 64, 0)  # BGR


def draw_outlines(
    pixels: np.ndarray, masks: list[tuple[np.ndarray, tuple[int, int, int]]], max_side: int = 1024
) -> np.ndarray:
    """BGR uint8 picture, at most ``max_side`` px, with each (mask, colour) outlined."""
    rows, columns = pixels.shape[:2]
    scale = min(1.0, max_side / max(rows, columns))
    size = (max(1, round(columns * scale)), max(1, round(rows * scale)))
    gray = cv2.resize(to_uint8(pixels), size, interpolation=cv2.INTER_AREA)
    canvas = cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR)
    thickness = max(1, round(max(size) / 600))
    for mask, colour in masks:
        small = cv2.resize(mask.astype(np.float32), size, interpolation=cv2.INTER_AREA) > 0.5
        contours, _ = cv2.findContours(
            small.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE
        )
        cv2.drawContours(canvas, contours, -1, colour, thickness, cv2.LINE_AA)
    return canvas

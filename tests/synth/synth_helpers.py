"""Small shared builders for the synth tests."""

from __future__ import annotations

import numpy as np

from morpho.synth.truth import POINTS


def six_points(row) -> np.ndarray:
    """(6, 2) points of a truth row, in POINTS order."""
    return np.array([[row[f"{p}_x"], row[f"{p}_y"]] for p in POINTS])


def outline_from_points(pts: np.ndarray) -> np.ndarray:
    """Polygon ant_sup, mid_sup, post_sup, post_inf, mid_inf, ant_inf."""
    return pts[[0, 1, 2, 5, 4, 3]]


def polygon_area_centroid(poly: np.ndarray) -> tuple[float, np.ndarray]:
    x, y = poly[:, 0], poly[:, 1]
    xs, ys = np.roll(x, -1), np.roll(y, -1)
    cross = x * ys - xs * y
    area = cross.sum() / 2
    cx = ((x + xs) * cross).sum() / (6 * area)
    cy = ((y + ys) * cross).sum() / (6 * area)
    return abs(area), np.array([cx, cy])

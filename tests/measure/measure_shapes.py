"""Rendered spines with exactly known geometry for the morphometry tests (``render_spine``
from ``morpho.synth.shapes``) and a film of them (``render_film``)."""

from __future__ import annotations

import numpy as np

from morpho.synth.shapes import SpineBody as Body
from morpho.synth.shapes import render_spine

__all__ = ["Body", "render_film", "render_spine"]


def render_film(mask: np.ndarray, bodies: list[Body], dips: dict[int, float]) -> np.ndarray:
    """A lateral film of upright bodies (no angle, no bulge): dark discs, body bone, a
    2-px bright cortical line on each endplate, whose middle sinks ``dips[i]`` px
    (parabolic) into body i while its silhouette (the rims) keeps the mask's outline."""
    film = np.full(mask.shape, 0.15)
    for i, body in enumerate(bodies):
        x0, y0 = body.outline.min(axis=0)
        x1, y1 = body.outline.max(axis=0)
        cols = np.arange(int(np.ceil(x0)), int(x1) + 1)
        dip = dips.get(i, 0.0) * (1 - ((cols - (x0 + x1) / 2) / ((x1 - x0) / 2)) ** 2)
        for c, d in zip(cols, dip, strict=True):
            rows = np.arange(int(np.ceil(y0)), int(y1) + 1)
            inside = (rows >= y0 + d) & (rows <= y1 - d)
            film[rows, c] = np.where(inside, 0.5, 0.3)  # rims only outside the dip
            film[rows[(rows >= y0 + d) & (rows < y0 + d + 2)], c] = 1.0
            film[rows[(rows <= y1 - d) & (rows > y1 - d - 2)], c] = 1.0
    return film

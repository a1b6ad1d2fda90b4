"""Projection geometry: a point source (cone beam) or a parallel beam onto a flat detector.

World frame = patient RAS in mm (x to the patient's right, y anterior, z superior), centred
on the isocentre. The detector's columns run along ``u`` and rows along ``v`` (downwards).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Beam direction, column direction and row direction per view and facing.
_VIEWS = {
    # lateral, beam from the patient's right to the detector at the left
    ("lateral", "left"): ((-1, 0, 0), (0, -1, 0), (0, 0, -1)),  # anterior on the viewer's left
    ("lateral", "right"): ((-1, 0, 0), (0, 1, 0), (0, 0, -1)),
    # AP: beam from the front; the patient's right on the viewer's left
    ("ap", "left"): ((0, -1, 0), (-1, 0, 0), (0, 0, -1)),
    ("ap", "right"): ((0, -1, 0), (-1, 0, 0), (0, 0, -1)),
}


@dataclass(frozen=True)
class Camera:
    """Detector of ``shape`` (rows, cols) with square pixels of ``pixel_mm`` at the detector.

    ``sid_mm`` is the source-to-detector distance and ``sod_mm`` the source-to-isocentre
    distance (magnification at the isocentre = sid/sod); ``cone=False`` gives parallel rays.
    """

    shape: tuple[int, int]
    pixel_mm: float
    sid_mm: float = 1800.0
    sod_mm: float = 1600.0
    cone: bool = True
    view: str = "lateral"
    facing: str = "left"

    @property
    def magnification(self) -> float:
        return self.sid_mm / self.sod_mm if self.cone else 1.0

    def axes(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        beam, u, v = _VIEWS[(self.view, self.facing)]
        return (np.array(beam, float), np.array(u, float), np.array(v, float))

    def detector_points(self) -> np.ndarray:
        """World position of every pixel centre, shape (rows, cols, 3)."""
        beam, u, v = self.axes()
        rows, cols = self.shape
        r = (np.arange(rows) - (rows - 1) / 2) * self.pixel_mm
        c = (np.arange(cols) - (cols - 1) / 2) * self.pixel_mm
        centre = beam * (self.sid_mm - self.sod_mm)
        return centre + r[:, None, None] * v + c[None, :, None] * u

    def rays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per pixel: ray origin (3,), unit direction and the distance to the detector."""
        beam, _, _ = self.axes()
        det = self.detector_points()
        if self.cone:
            origin = np.broadcast_to(-beam * self.sod_mm, det.shape)
        else:
            origin = det - beam * self.sid_mm
        delta = det - origin
        length = np.linalg.norm(delta, axis=-1)
        return origin, delta / length[..., None], length

    def project(self, points: np.ndarray) -> np.ndarray:
        """World points (n, 3) -> detector (col, row) pixel coordinates, shape (n, 2)."""
        beam, u, v = self.axes()
        points = np.asarray(points, float)
        if self.cone:
            source = -beam * self.sod_mm
            scale = self.sid_mm / ((points - source) @ beam)
            rel = (points - source) * scale[:, None]
        else:
            rel = points
        rows, cols = self.shape
        col = rel @ u / self.pixel_mm + (cols - 1) / 2
        row = rel @ v / self.pixel_mm + (rows - 1) / 2
        return np.stack([col, row], axis=1)


def box_corners(lo, hi) -> np.ndarray:
    """The 8 corners (8, 3) of the axis-aligned box from ``lo`` to ``hi``."""
    return np.array([[x, y, z] for x in (lo[0], hi[0]) for y in (lo[1], hi[1])
                     for z in (lo[2], hi[2])], float)

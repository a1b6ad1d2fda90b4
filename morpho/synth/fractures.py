"""Genant compression deformities: type (wedge, biconcave, crush) and grade (1, 2, 3)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import ndimage as ndi

from morpho.synth.geometry import box_corners
from morpho.synth.truth import COLUMN_FRACTIONS, BodyFrame, six_point_heights

TYPES = ("wedge", "biconcave", "crush")
GRADE_LOSS = {1: (0.20, 0.25), 2: (0.25, 0.40), 3: (0.40, 0.55)}  # height loss per grade


@dataclass(frozen=True)
class Fracture:
    """Loss of height ``loss`` (fraction) of Genant ``type`` and ``grade``."""

    type: str
    grade: int
    loss: float

    def as_dict(self) -> dict:
        return {"type": self.type, "grade": self.grade, "loss": round(self.loss, 4)}

    def column_scale(
        self, intact: Sequence[float], neighbour_hp: float | None = None
    ) -> tuple[float, float, float]:
        """Height scale of the anterior, middle and posterior columns of a body whose
        intact heights are ``intact`` (Ha, Hm, Hp).

        The loss is taken against the height Genant's grade compares with, so that the
        fractured body's heights give the built grade: wedge, the anterior height against
        the posterior one (the middle column loses half as much); biconcave, the middle
        height against the posterior one; crush, the posterior height against the
        neighbours' mean posterior height ``neighbour_hp`` (default: its own), all columns
        alike. A body already shorter than that target keeps its height.
        """
        ha, hm, hp = (float(h) for h in intact)
        keep = 1.0 - self.loss
        if self.type == "wedge":
            front = min(1.0, keep * hp / ha)
            return front, 0.5 * (1 + front), 1.0
        if self.type == "biconcave":
            return 1.0, min(1.0, keep * hp / hm), 1.0
        whole = min(1.0, keep * (neighbour_hp or hp) / hp)
        return whole, whole, whole


def make_fracture(type_: str, grade: int, rng: np.random.Generator | None = None) -> Fracture:
    """A fracture with a height loss drawn inside the grade's range."""
    if type_ not in TYPES or grade not in GRADE_LOSS:
        raise ValueError(f"unknown fracture {type_!r} grade {grade}")
    lo, hi = GRADE_LOSS[grade]
    loss = (lo + hi) / 2 if rng is None else float(rng.uniform(lo + 0.01, hi - 0.01))
    return Fracture(type_, grade, loss)


def sample_fractures(
    levels: Sequence[str], rate: float, rng: np.random.Generator,
    chosen: dict[str, tuple[str, int]] | None = None,
) -> dict[str, Fracture]:
    """Fractures at ``chosen`` levels (level -> (type, grade)), else each level of T4-L5
    fractured with probability ``rate`` (thoracolumbar junction twice as likely)."""
    if chosen:
        return {lvl: make_fracture(t, g, rng) for lvl, (t, g) in chosen.items() if lvl in levels}
    out: dict[str, Fracture] = {}
    for level in levels:
        if level in ("T1", "T2", "T3") or level.startswith("C"):
            continue
        weight = 2.0 if level in ("T11", "T12", "L1", "L2") else 1.0
        if rng.random() < min(1.0, rate * weight):
            type_ = str(rng.choice(TYPES, p=(0.5, 0.3, 0.2)))
            grade = int(rng.choice((1, 2, 3), p=(0.4, 0.4, 0.2)))
            out[level] = make_fracture(type_, grade, rng)
    return out


def _sample(volume: np.ndarray, affine: np.ndarray, points: np.ndarray, order: int) -> np.ndarray:
    inv = np.linalg.inv(affine)
    idx = points @ inv[:3, :3].T + inv[:3, 3]
    return ndi.map_coordinates(volume, idx.T, order=order, mode="nearest", prefilter=False)


def _scale_along_depth(
    scale: Sequence[float], frame: BodyFrame, u: np.ndarray
) -> np.ndarray:
    lo, hi = frame.depth_range
    cols = [hi - f * (hi - lo) for f in COLUMN_FRACTIONS]  # anterior first
    coef = np.polyfit(cols, scale, 2)
    return np.clip(np.polyval(coef, np.clip(u, lo, hi)), 0.3, 1.0)


class BodyCompression:
    """Compress one body towards its inferior endplate plane, column by column."""

    def __init__(self, fracture: Fracture, frame: BodyFrame, labels: np.ndarray,
                 label_affine: np.ndarray, label: int, box: tuple[slice, ...] | None = None,
                 neighbour_hp: float | None = None):
        """``box``: voxel slices known to hold the whole body (speed); ``neighbour_hp``:
        the mean posterior height (mm) of the intact neighbours, for a crush."""
        self.frame = frame
        self.scale = fracture.column_scale(six_point_heights(frame.points), neighbour_hp)
        self.labels, self.label_affine, self.label = labels, label_affine, label
        box = box or (slice(None),) * 3
        idx = np.argwhere(labels[box] == label) + [s.start or 0 for s in box]
        pts = idx @ label_affine[:3, :3].T + label_affine[:3, 3]
        spacing = np.sqrt((label_affine[:3, :3] ** 2).sum(axis=0))
        self.w0 = float(((pts - frame.centre) @ frame.up).min() - 0.5 * np.abs(frame.up) @ spacing)
        lo, hi = idx.min(axis=0) - 2, idx.max(axis=0) + 3
        corners = box_corners(lo, hi)
        self.box_mm = corners @ label_affine[:3, :3].T + label_affine[:3, 3]

    def _local(self, pts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        rel = pts - self.frame.centre
        return rel @ self.frame.ap, rel @ self.frame.up

    def forward(self, pts: np.ndarray) -> np.ndarray:
        """Where points of the intact body go."""
        u, w = self._local(pts)
        c = _scale_along_depth(self.scale, self.frame, u)
        w_new = np.where(w > self.w0, self.w0 + c * (w - self.w0), w)
        return pts + ((w_new - w)[:, None] * self.frame.up)

    def apply(self, volume: np.ndarray, affine: np.ndarray, fill: float, order: int
              ) -> np.ndarray:
        """A copy of ``volume`` (on its own grid) with the body compressed; the space it
        leaves is set to ``fill``."""
        inv = np.linalg.inv(affine)
        box = self.box_mm @ inv[:3, :3].T + inv[:3, 3]
        lo = np.clip(np.floor(box.min(axis=0)).astype(int), 0, None)
        hi = np.minimum(np.ceil(box.max(axis=0)).astype(int) + 1, volume.shape)
        grid = np.stack(np.meshgrid(*[np.arange(a, b) for a, b in zip(lo, hi, strict=True)],
                                    indexing="ij"), axis=-1).reshape(-1, 3)
        pts = grid @ affine[:3, :3].T + affine[:3, 3]
        u, w = self._local(pts)
        c = _scale_along_depth(self.scale, self.frame, u)
        w_src = np.where(w > self.w0, self.w0 + (w - self.w0) / c, w)
        src = pts + ((w_src - w)[:, None] * self.frame.up)
        in_body_src = _sample(self.labels, self.label_affine, src, 0) == self.label
        in_body_now = _sample(self.labels, self.label_affine, pts, 0) == self.label
        values = _sample(volume, affine, src, order)
        out = volume.copy()
        region = out[lo[0]:hi[0], lo[1]:hi[1], lo[2]:hi[2]].reshape(-1)
        region = np.where(in_body_src, values, np.where(in_body_now, fill, region))
        out[lo[0]:hi[0], lo[1]:hi[1], lo[2]:hi[2]] = region.reshape(hi - lo)
        return out

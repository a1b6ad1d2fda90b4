"""Geometry of body pixels and the spine curve through them."""

from __future__ import annotations

import cv2
import numpy as np
from numpy.polynomial import Polynomial


class SpineCurve:
    """A smooth curve ``offset = f(t)`` in the frame of the principal axis of points.

    ``u`` is the principal axis (pointing down the image: cranial -> caudal) and ``n`` its
    perpendicular pointing to the image right; ``t`` runs along ``u``.
    """

    def __init__(self, xy: np.ndarray, weights: np.ndarray | None = None, degree: int = 3):
        self.mean = np.average(xy, axis=0, weights=weights)
        d = xy - self.mean
        cov = np.cov(d.T, aweights=weights) if len(xy) > 1 else np.eye(2)
        evals, evecs = np.linalg.eigh(cov)
        u = evecs[:, np.argmax(evals)]
        if u[1] < -1e-9 or (abs(u[1]) <= 1e-9 and u[0] < 0):
            u = -u
        self.u = u
        self.n = np.array([u[1], -u[0]])
        t, o = d @ self.u, d @ self.n
        deg = int(min(degree, max(0, len(np.unique(np.round(t))) - 1)))
        self.poly = Polynomial.fit(t, o, deg, w=weights) if deg > 0 else Polynomial([o.mean()])

    def t(self, xy: np.ndarray) -> np.ndarray:
        return (np.atleast_2d(xy) - self.mean) @ self.u

    def residual(self, xy: np.ndarray) -> np.ndarray:
        """Signed distance (along ``n``) of points from the curve."""
        d = np.atleast_2d(xy) - self.mean
        return d @ self.n - self.poly(d @ self.u)

    def sagitta(self, ts: np.ndarray) -> float:
        """Bulge of the curve between ``ts`` ends along ``n`` (positive = to image right)."""
        a, b = float(ts.min()), float(ts.max())
        mid = np.linspace(a, b, 21)[5:16]
        chord = self.poly(a) + (self.poly(b) - self.poly(a)) * (mid - a) / max(b - a, 1e-9)
        return float(np.mean(self.poly(mid) - chord))

def xy_of(rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    return np.column_stack([cols, rows]).astype(float)


def coarse_curve(comps: list, scale: float) -> SpineCurve:
    """Spine centreline from the pixels of the components: medians in bins along the
    principal axis."""
    step = max(1, sum(c[0].size for c in comps) // 5000)
    xy = np.concatenate([xy_of(c[0][::step], c[1][::step]) for c in comps])
    base = SpineCurve(xy, degree=0)
    t, o = base.t(xy), (xy - base.mean) @ base.n
    bins = np.floor((t - t.min()) / max(scale, 2.0)).astype(int)
    _, counts = np.unique(bins, return_counts=True)
    c = np.column_stack([grouped_median(bins, t), grouped_median(bins, o), counts])
    pts = base.mean + np.outer(c[:, 0], base.u) + np.outer(c[:, 1], base.n)
    return SpineCurve(pts, weights=c[:, 2], degree=min(5, max(1, len(c) // 4)))


def grouped_median(groups: np.ndarray, values: np.ndarray) -> np.ndarray:
    """``np.median`` of ``values`` within each group, in the order of the sorted groups, by
    one sort rather than a call per group."""
    order = np.lexsort((values, groups))
    g, v = groups[order], values[order]
    start = np.flatnonzero(np.r_[True, g[1:] != g[:-1]])
    count = np.diff(np.r_[start, g.size])
    lo, hi = start + (count - 1) // 2, start + count // 2
    return (v[lo] + v[hi]) / 2


def small_median(x: np.ndarray) -> float:
    """``np.median`` of a short 1-D array without its per-call overhead."""
    x = np.sort(x)
    n = x.size
    return float((x[(n - 1) // 2] + x[n // 2]) / 2)


def span(rows: np.ndarray, cols: np.ndarray, direction: np.ndarray) -> float:
    """Extent (px, pixel centres + 1) of pixels along a unit ``direction`` (x, y)."""
    s = cols * float(direction[0]) + rows * float(direction[1])
    return float(s.max() - s.min() + 1.0) if s.size else 0.0


def centre_of(rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    return np.array([cols.mean(), rows.mean()])


def extent(s: np.ndarray) -> float:
    return float(s.max() - s.min() + 1.0) if s.size else 0.0


def distance_map(crop: np.ndarray) -> np.ndarray:
    """Exact Euclidean distance to the background (OpenCV, the fast one), reproducible.

    OpenCV's precise transform differs by ~1e-6 between identical calls depending on memory
    layout, which can flip a watershed. The exact distances are square roots of integers,
    so the squared distance is rounded to its integer first: bit-identical on every call.
    """
    padded = np.pad(crop, 1).astype(np.uint8)
    d = cv2.distanceTransform(padded, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)[1:-1, 1:-1]
    return np.sqrt(np.rint(np.square(d, dtype=np.float64))).astype(np.float32)


def neighbour_tangents(centres: np.ndarray, down: np.ndarray) -> list[np.ndarray]:
    """Local spine axis at each of the ordered ``centres``: towards the next from the
    previous centre (one-sided at the ends), pointing along ``down``. A lone body is taken
    upright (the image's vertical)."""
    if len(centres) < 2:
        return [np.array([0.0, 1.0])] * len(centres)
    out = []
    for i in range(len(centres)):
        d = centres[min(i + 1, len(centres) - 1)] - centres[max(i - 1, 0)]
        d = d / np.linalg.norm(d) if np.linalg.norm(d) > 0 else np.asarray(down, float)
        out.append(d if d @ down >= 0 else -d)
    return out


def curve_degree(n: int) -> int:
    """Polynomial degree of the spine curve through ``n`` body centres."""
    return min(5, max(1, n // 3))


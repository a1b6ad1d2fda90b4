"""From a vertebral body mask to ordered, labelled vertebrae with QA notes.

Steps: connected components -> drop specks -> split touching bodies (watershed on the
distance transform at necks; else at a notch in the outline; else cuts at the expected
body height) -> drop fragments and off-axis objects -> fit the spine curve through the
body centres -> order cranial to caudal along it -> flag gaps (missing levels) -> level names ->
facing (which side is anterior).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np
from numpy.polynomial import Polynomial
from scipy import ndimage as ndi
from skimage.measure import label as label_components
from skimage.morphology import h_maxima
from skimage.segmentation import watershed

LEVELS = (
    [f"C{i}" for i in range(1, 8)]
    + [f"T{i}" for i in range(1, 13)]
    + [f"L{i}" for i in range(1, 6)]
    + ["S1"]
)
# Approximate adult vertebral body size (mm) by level, C3..S1, rounded from published
# morphometry (Panjabi et al. 1991, 1992): height, sagittal depth (lateral view) and
# transverse width (AP view). Used only by the suggested-labelling heuristic.
TYPICAL_MM = {
    "height": [14, 14, 14, 14, 15, 16, 17, 17.5, 18, 18.5, 19, 19.5, 20, 21, 22, 23, 24.5,
               25.5, 26.5, 27, 27, 26.5, 25],
    "depth": [15, 15.5, 15.5, 16, 16, 16, 17, 18, 19.5, 21, 22.5, 24, 25.5, 27, 28.5, 29.5,
              31, 33, 34, 35, 35.5, 35.5, 35],
    "width": [16, 17, 18, 20, 22, 25, 26, 27, 28, 29, 30, 31, 32, 33, 35, 37, 39, 41, 43, 45,
              47, 49, 50],
}
GAP_FACTOR = 1.8  # a centre-to-centre gap this many times the local spacing = missing level
SPECK = 0.12  # objects thinner than this fraction of the typical body are specks
MIN_RADIUS = 2.0  # and objects under 4 px thick always are
FRAGMENT = 0.3  # pieces smaller than this fraction of their neighbours are fragments
EDGE_FRAGMENT = 0.01  # the same for a body cut by the image edge
OVERSIZE = 1.4  # a body this much taller (and larger) than its neighbours is not graded
SPLIT_FACTOR = 1.8  # a body this many expected heights long (and 1.7x the area) is cut
SPLIT_SPACING = 1.1  # ... if its centre also sits this far (x the spacing) from its neighbours
NOTCH_DEPTH = 0.08  # a notch this deep (x the body's width) in a tall body marks a joint


@dataclass
class Vertebra:
    """One vertebral body: its pixels (row, col arrays) and its place in the spine."""

    rows: np.ndarray
    cols: np.ndarray
    centre: tuple[float, float]  # (x, y)
    tangent: tuple[float, float] = (0.0, 1.0)  # unit spine axis at the body, caudal
    index: int = 0
    level: str = ""
    suggested_level: str = ""
    qa: list[str] = field(default_factory=list)
    split: str = ""  # "", "neck", "notch" or "size"
    doubtful: str = ""  # why the outline cannot be trusted for grading, if it cannot

    @property
    def area(self) -> int:
        return int(self.rows.size)


@dataclass
class Labelling:
    """The ordered vertebrae of one mask, with the image-level findings."""

    vertebrae: list[Vertebra]
    dropped: list[str]
    facing: str  # "left" / "right" (side of the image the anterior is on), "" for AP
    facing_source: str  # "override", "header", "curvature", "default", ""
    suggested_confidence: float
    body_height_px: float
    shape: tuple[int, int]


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


def level_names(first_level: str | None, count: int, steps: list[int]) -> list[str]:
    """Names for ``count`` bodies from ``first_level``; ``steps[i]`` levels before body i."""
    if not first_level:
        return [""] * count
    start = LEVELS.index(first_level.upper())
    positions = start + np.cumsum([0, *steps[1:]]) if count else []
    return [LEVELS[p] if p < len(LEVELS) else "" for p in positions]


def check_level(name: str | None) -> str | None:
    """Normalise a level name (``t4`` -> ``T4``); raise ValueError for unknown names."""
    if name is None or name == "":
        return None
    if name.upper() not in LEVELS:
        raise ValueError(f"unknown level {name!r}; expected one of {LEVELS[0]}..{LEVELS[-1]}")
    return name.upper()


def _xy(rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    return np.column_stack([cols, rows]).astype(float)


def _coarse_curve(comps: list, scale: float) -> SpineCurve:
    """Spine centreline from the pixels of the components: medians in bins along the
    principal axis."""
    step = max(1, sum(c[0].size for c in comps) // 5000)
    xy = np.concatenate([_xy(c[0][::step], c[1][::step]) for c in comps])
    base = SpineCurve(xy, degree=0)
    t, o = base.t(xy), (xy - base.mean) @ base.n
    bins = np.floor((t - t.min()) / max(scale, 2.0)).astype(int)
    centres = []
    for b in np.unique(bins):
        sel = bins == b
        centres.append((np.median(t[sel]), np.median(o[sel]), sel.sum()))
    c = np.array(centres)
    pts = base.mean + np.outer(c[:, 0], base.u) + np.outer(c[:, 1], base.n)
    return SpineCurve(pts, weights=c[:, 2], degree=min(5, max(1, len(c) // 4)))


def _span(rows: np.ndarray, cols: np.ndarray, direction: np.ndarray) -> float:
    """Extent (px, pixel centres + 1) of pixels along a unit ``direction`` (x, y)."""
    s = cols * float(direction[0]) + rows * float(direction[1])
    return float(s.max() - s.min() + 1.0) if s.size else 0.0


def _centre(rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    return np.array([cols.mean(), rows.mean()])


def _extent(s: np.ndarray) -> float:
    return float(s.max() - s.min() + 1.0) if s.size else 0.0


def _distance(crop: np.ndarray) -> np.ndarray:
    """Exact Euclidean distance to the background (OpenCV, the fast one)."""
    padded = np.pad(crop, 1).astype(np.uint8)
    return cv2.distanceTransform(padded, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)[1:-1, 1:-1]


def _watershed_split(
    crop: np.ndarray, tangent: np.ndarray, height: float, area: float, radius: float
) -> list[np.ndarray] | None:
    """Split at necks: watershed on the distance transform from its h-maxima.

    Returns boolean crops, or None when there is no plausible split.
    """
    dist = _distance(crop)
    markers = label_components(h_maxima(dist, max(1.0, 0.2 * radius)))
    if markers.max() < 2:
        return None
    pieces_lab = watershed(-dist, markers, mask=crop)
    pieces = [pieces_lab == k for k in range(1, pieces_lab.max() + 1)]
    pieces = [p for p in pieces if p.any()]
    positions = []
    for p in pieces:
        r, c = np.nonzero(p)
        xy = _xy(r, c)
        s = xy @ tangent
        if _extent(s) < 0.5 * height or r.size < 0.3 * area:
            return None
        positions.append(s.mean())
    positions = np.sort(positions)
    if len(positions) < 2 or np.diff(positions).min() < 0.5 * height:
        return None
    return pieces


def _notch_split(
    crop: np.ndarray, tangent: np.ndarray, height: float, area: float
) -> list[np.ndarray] | None:
    """Cut two bodies that touch along a joint at the deepest notch in their outline.

    Where two bodies meet without a neck (no second distance maximum), the outline still
    turns inwards at the joint: a convexity defect. The cut runs from the deepest one
    across the body, to the matching notch on the other side when there is one, else
    square to the spine axis. Returns None when there is no notch deep enough."""
    contours, _ = cv2.findContours(crop.astype(np.uint8), cv2.RETR_EXTERNAL,
                                   cv2.CHAIN_APPROX_NONE)
    contour = max(contours, key=len)
    if len(contour) < 8:
        return None
    hull = cv2.convexHull(contour, returnPoints=False)
    try:
        defects = cv2.convexityDefects(contour, hull)
    except cv2.error:  # a self-touching outline
        return None
    if defects is None:
        return None
    r, c = np.nonzero(crop)
    xy = _xy(r, c)
    normal = np.array([-tangent[1], tangent[0]])
    s, w = xy @ tangent, xy @ normal
    mid_w = 0.5 * (w.min() + w.max())
    defects = defects.reshape(-1, 4)
    points = contour[defects[:, 2], 0].astype(float)
    depth = defects[:, 3] / 256.0
    ps, pw = points @ tangent, points @ normal
    inside = (ps > s.min() + 0.5 * height) & (ps < s.max() - 0.5 * height)
    deep = inside & (depth >= NOTCH_DEPTH * _extent(w))
    if not deep.any():
        return None
    k = int(np.argmax(np.where(deep, depth, -1)))
    across = inside & (np.sign(pw - mid_w) != np.sign(pw[k] - mid_w))
    across &= np.abs(ps - ps[k]) < 0.5 * height
    across &= depth >= 0.5 * NOTCH_DEPTH * _extent(w)
    if across.any():
        j = int(np.argmax(np.where(across, depth, -1)))
        direction = points[j] - points[k]
    else:
        direction = normal
    rel = xy - points[k]
    side = direction[0] * rel[:, 1] - direction[1] * rel[:, 0] > 0
    pieces = []
    for sel in (side, ~side):
        if sel.sum() < 0.3 * area or _extent(s[sel]) < 0.5 * height:
            return None
        m = np.zeros_like(crop)
        m[r[sel], c[sel]] = True
        pieces.append(m)
    return pieces


def _size_split(crop: np.ndarray, tangent: np.ndarray, height: float) -> list[np.ndarray]:
    """Cut a body that is several expected heights long at the narrowest places."""
    r, c = np.nonzero(crop)
    s = _xy(r, c) @ tangent
    s0 = s.min()
    length = _extent(s)
    n = int(length / height + 0.3)  # rounds down up to x.7: too few cuts beat false bodies
    if n < 2:
        return [crop]
    bins = np.floor(s - s0).astype(int)
    width = ndi.uniform_filter1d(np.bincount(bins).astype(float), 3)
    cuts = []
    for k in range(1, n):
        expected = k * length / n
        lo, hi = int(expected - 0.25 * height), int(expected + 0.25 * height) + 1
        lo, hi = max(lo, 1), min(hi, width.size - 1)
        if hi <= lo:
            return [crop]
        window = np.arange(lo, hi)
        penalty = 0.05 * width.max() * np.abs(window - expected) / height
        cuts.append(window[np.argmin(width[lo:hi] + penalty)])
    piece = np.searchsorted(np.array(cuts), bins, side="right")
    out = []
    for k in range(n):
        m = np.zeros_like(crop)
        sel = piece == k
        m[r[sel], c[sel]] = True
        out.append(m)
    return out


def _split_component(
    rows: np.ndarray, cols: np.ndarray, tangent: np.ndarray, height: float, area: float,
    radius: float, spaced: bool = True, depth: int = 0,
) -> tuple[list[tuple[np.ndarray, np.ndarray]], str]:
    """Split one component into bodies; returns their pixels and how it was split.

    A neck (watershed) or notch split is tried first and each piece is split again, so a
    chain of three touching bodies comes apart at both joints. ``spaced`` says the centre
    spacing supports a merged pair (see ``_spacing_ratio``); without it no cut is made
    where there is no neck."""
    if rows.size < 1.3 * area:  # no split can apply
        return [(rows, cols)], ""
    r0, c0 = rows.min(), cols.min()
    crop = np.zeros((rows.max() - r0 + 1, cols.max() - c0 + 1), bool)
    crop[rows - r0, cols - c0] = True
    pieces, how = None, ""
    if _span(rows, cols, tangent) >= 1.3 * height:
        if rows.size >= 1.5 * area:
            pieces, how = _watershed_split(crop, tangent, height, area, radius), "neck"
        if pieces is None:
            pieces, how = _notch_split(crop, tangent, height, area), "notch"
    if pieces is not None and depth < 3:
        out, hows = [], [how]
        for p in pieces:
            r, c = np.nonzero(p)
            sub, sub_how = _split_component(
                r + r0, c + c0, tangent, height, area, radius, spaced, depth + 1)
            out.extend(sub)
            hows.append(sub_how)
        return out, "size" if "size" in hows else how
    long = _span(rows, cols, tangent) >= SPLIT_FACTOR * height and rows.size >= 1.7 * area
    if not (long and spaced):
        return [(rows, cols)], ""
    out = []
    for p in _size_split(crop, tangent, height):
        r, c = np.nonzero(p)
        if r.size:
            out.append((r + r0, c + c0))
    return out, "size" if len(out) > 1 else ""


def _components(mask: np.ndarray) -> list[tuple[np.ndarray, np.ndarray, float]]:
    """Connected components (8-connected) as (rows, cols, inscribed radius)."""
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:
        return []
    r0, c0 = rows[0], cols[0]
    box = mask[r0 : rows[-1] + 1, c0 : cols[-1] + 1].astype(np.uint8)
    n, lab, stats, _ = cv2.connectedComponentsWithStats(box, connectivity=8)
    out = []
    for k in range(1, n):
        x, y, w, h = stats[k, :4]
        sub = lab[y : y + h, x : x + w] == k
        r, c = np.nonzero(sub)
        out.append((r + y + r0, c + x + c0, float(_distance(sub).max())))
    return out


def _neighbours(n: int, i: int, k: int = 2) -> np.ndarray:
    """Indices of up to ``k`` items on each side of item ``i`` in a sequence of ``n``."""
    return np.array([j for j in range(max(0, i - k), min(n, i + k + 1)) if j != i], int)


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


def _spacing_ratio(centres: np.ndarray, i: int) -> float:
    """Mean distance from centre ``i`` to its neighbours, over the median of the other
    centre-to-centre distances: ~1.5 for two merged bodies, ~1 for one tall body (NaN with
    fewer than four centres)."""
    d = np.linalg.norm(np.diff(centres, axis=0), axis=1)
    own = [j for j in (i - 1, i) if 0 <= j < d.size]
    rest = np.delete(d, own)
    return float(d[own].mean() / np.median(rest)) if rest.size >= 2 else float("nan")


def _where(xy: np.ndarray) -> str:
    return f"({xy[0]:.0f},{xy[1]:.0f})"


def _separate(
    mask: np.ndarray, dropped: list[tuple[np.ndarray, str]]
) -> tuple[list[Vertebra], float]:
    """Components -> specks dropped -> split bodies; returns bodies and expected height.

    A piece cut by the image edge is judged later, against its neighbours."""
    shape = mask.shape
    comps = _components(mask)
    if not comps:
        return [], 0.0
    radii = np.array([c[2] for c in comps])
    areas = np.array([c[0].size for c in comps])
    big = radii >= 0.3 * radii.max()
    radius = float(np.median(radii[big]))
    keep, edge = [], []
    for (r, c, rad), a in zip(comps, areas, strict=True):
        xy = _centre(r, c)
        cut = _touches_border(r, c, shape)
        if rad < (MIN_RADIUS if cut else max(SPECK * radius, MIN_RADIUS)):
            dropped.append((xy, f"speck at {_where(xy)}: {a} px, {2 * rad:.0f} px thick"))
        else:
            keep.append((r, c, rad))
            edge.append(cut)
    if not keep:
        return [], 2 * radius
    coarse = _coarse_curve(keep, radius)
    centres = np.array([_centre(r, c) for r, c, _ in keep])
    ts = coarse.t(centres)
    order = np.argsort(ts)
    keep, centres, ts = [keep[i] for i in order], centres[order], ts[order]
    cut = np.array(edge)[order]
    tangents = neighbour_tangents(centres, coarse.u)
    lengths = np.array([
        _span(r, c, tan) for (r, c, _), tan in zip(keep, tangents, strict=True)
    ])
    areas = np.array([k[0].size for k in keep], float)
    bodies = []
    for i, ((r, c, _), tan) in enumerate(zip(keep, tangents, strict=True)):
        # expected size from the neighbours along the spine (sizes grow caudally), leaving
        # out bodies cut by the image edge
        others = _neighbours(len(keep), i)
        others = others[~cut[others]]
        known = others.size >= 2
        if known:
            height, area = float(np.median(lengths[others])), float(np.median(areas[others]))
        else:
            height, area = 2 * radius, 0.8 * (2 * radius) ** 2
        ratio = _spacing_ratio(centres, i)
        spaced = not ratio < SPLIT_SPACING  # NaN (too few bodies to tell): allowed
        pieces, how = _split_component(r, c, tan, height, area, radius, spaced)
        for pr, pc in pieces:
            v = Vertebra(pr, pc, tuple(_centre(pr, pc)), split=how)
            if how:
                kind = {"neck": "at a neck", "notch": "at a notch in the outline"}.get(
                    how, "by expected size, no neck")
                v.qa.append(f"split from touching bodies ({kind})")
            if how == "size":
                v.doubtful = "outline cut from touching bodies without a visible gap"
            size = _span(pr, pc, tan) / height
            if known and size > OVERSIZE and pr.size > OVERSIZE * area:
                v.doubtful = f"may hold two bodies ({size:.1f}x the neighbours' height)"
                v.qa.append(f"unusually tall: {size:.1f}x the neighbours' height")
            bodies.append(v)
    height = float(np.median(lengths)) if lengths.size else 2 * radius
    return bodies, height


def _touches_border(rows: np.ndarray, cols: np.ndarray, shape: tuple[int, int]) -> bool:
    return bool(rows.min() == 0 or cols.min() == 0 or rows.max() == shape[0] - 1
                or cols.max() == shape[1] - 1)


def _drop_fragments(
    bodies: list[Vertebra], height: float, dropped: list[tuple[np.ndarray, str]],
    shape: tuple[int, int],
) -> list[Vertebra]:
    """Drop small fragments (against their neighbours along the spine) and objects off the
    spine curve. A body cut by the image edge is kept (and not graded) unless it is a sliver
    under 1% of its neighbours."""
    if not bodies:
        return bodies
    centres = np.array([b.centre for b in bodies])
    order = np.argsort(SpineCurve(centres, degree=0).t(centres))
    bodies = [bodies[i] for i in order]
    areas = np.array([b.area for b in bodies], float)
    kept = []
    for i, b in enumerate(bodies):
        others = _neighbours(len(bodies), i)
        near = float(np.median(areas[others])) if others.size else areas[i]
        limit = EDGE_FRAGMENT if _touches_border(b.rows, b.cols, shape) else FRAGMENT
        if areas[i] < limit * near:
            note = f"fragment at {_where(b.centre)}: {b.area} px < {limit:.0%} of its neighbours"
            dropped.append((np.array(b.centre), note))
        else:
            kept.append(b)
    while len(kept) >= 4:  # drop the worst outlier from the curve, refit, repeat
        centres = np.array([b.centre for b in kept])
        curve = SpineCurve(centres, np.array([b.area for b in kept], float), _degree(len(kept)))
        resid = np.abs(curve.residual(centres))
        worst = int(np.argmax(resid))
        if resid[worst] <= max(1.5 * height, 3 * np.median(resid)):
            break
        b = kept.pop(worst)
        note = f"off the spine axis at {_where(b.centre)}: {resid[worst]:.0f} px from the curve"
        dropped.append((np.array(b.centre), note))
    return kept


def _degree(n: int) -> int:
    """Polynomial degree of the spine curve through ``n`` body centres."""
    return min(5, max(1, n // 3))


def _facing(
    curve: SpineCurve, ts: np.ndarray, levels: list[str], suggested: list[str],
    confidence: float, height: float,
) -> tuple[str, str]:
    """Anterior side from the curvature: kyphosis bulges posteriorly, lordosis anteriorly.

    Tries the thoracic, then the lumbar bodies by level name (or by the suggested names
    when they are confident), then all bodies taken as thoracic (a chest film); the first
    clear bulge (a tenth of a body height) decides.
    """
    names = levels if any(levels) else suggested if confidence >= 0.6 else [""] * ts.size
    regions = [
        (np.array([n.startswith("T") for n in names]), 1.0),
        (np.array([n.startswith("L") for n in names]), -1.0),
        (np.ones(ts.size, bool), 1.0),
    ]
    for members, sign in regions:
        if members.sum() < 4:
            continue
        bulge = curve.sagitta(ts[members])
        if abs(bulge) >= 0.1 * height:
            return ("left" if sign * bulge > 0 else "right"), "curvature"
    return "left", "default"


def suggest_levels(
    sizes_mm: dict[str, np.ndarray], steps: list[int], absolute: bool
) -> tuple[list[str], float]:
    """Heuristic labelling: align the bodies' sizes with typical sizes per level.

    ``sizes_mm`` holds measured "height" and "depth" (lateral) or "width" (AP) per body.
    With a known spacing sizes are compared in mm (one free scale, +-15%); without it only
    their relative growth down the spine counts. Returns the names and the posterior
    probability of the best alignment (Gaussian residuals of 8% per size, flat prior).
    """
    names = LEVELS[2:]
    first = next(iter(sizes_mm.values()))
    pos = np.cumsum([0, *steps[1:]]) if len(steps) else np.array([], int)
    if first.size < 3 or not all(np.all(np.isfinite(v) & (v > 0)) for v in sizes_mm.values()):
        return [""] * first.size, 0.0
    scores, starts = [], []
    for start in range(len(names) - int(pos[-1])):
        score = 0.0
        for key, values in sizes_mm.items():
            res = np.log(values) - np.log(np.array(TYPICAL_MM[key])[start + pos])
            shift = np.clip(res.mean(), -0.15, 0.15) if absolute else res.mean()
            score -= 0.5 * np.sum(((res - shift) / 0.08) ** 2)
        scores.append(score)
        starts.append(start)
    if not scores:
        return [""] * first.size, 0.0
    scores = np.array(scores)
    prob = np.exp(scores - scores.max())
    prob /= prob.sum()
    best = starts[int(np.argmax(prob))]
    return [names[best + int(p)] for p in pos], float(prob.max())


def _local_spacing(gaps: list[float], i: int) -> float:
    """Median of up to two gaps on each side of gap ``i`` (the spacing grows down the spine)."""
    near = [g for j, g in enumerate(gaps) if j != i and abs(j - i) <= 2]
    return float(np.median(near)) if near else float(gaps[i])


def label_bodies(
    mask: np.ndarray,
    *,
    view: str = "lateral",
    first_level: str | None = None,
    anterior: str | None = None,
    spacing_mm: tuple[float, float] | None = None,
    facing_hint: str | None = None,
) -> Labelling:
    """Separate, clean, order and label the vertebral bodies of a boolean mask.

    ``anterior`` ("left"/"right") overrides the facing; ``facing_hint`` is a facing from the
    file header, used when there is no override.
    """
    mask = np.asarray(mask).astype(bool)
    first_level = check_level(first_level)
    dropped_at: list[tuple[np.ndarray, str]] = []
    bodies, height = _separate(mask, dropped_at)
    bodies = _drop_fragments(bodies, height, dropped_at, mask.shape)
    lateral = view not in ("ap", "pa")
    if not bodies:
        return Labelling([], [d for _, d in dropped_at], "", "", 0.0, height, mask.shape)
    centres = np.array([b.centre for b in bodies])
    weights = np.array([b.area for b in bodies], float)
    curve = SpineCurve(centres, weights, degree=_degree(len(bodies)))
    ts = curve.t(centres)
    order = np.argsort(ts)
    bodies, ts = [bodies[i] for i in order], ts[order]
    ordered = np.array([b.centre for b in bodies])
    gaps = list(np.linalg.norm(np.diff(ordered, axis=0), axis=1))
    steps = [1]
    for i, gap in enumerate(gaps, start=1):
        spacing = _local_spacing(gaps, i - 1)
        missing = int(round(gap / spacing)) - 1 if gap > GAP_FACTOR * spacing else 0
        steps.append(1 + missing)
        if missing:
            bodies[i].qa.append(
                f"likely missing level above ({missing}; gap {gap / spacing:.1f}x the "
                "neighbouring spacing)"
            )
    names = level_names(first_level, len(bodies), steps)
    tangents = neighbour_tangents(np.array([b.centre for b in bodies]), curve.u)
    sizes: dict[str, list[float]] = {"height": [], "depth" if lateral else "width": []}
    across = "depth" if lateral else "width"
    for i, b in enumerate(bodies):
        b.index = i + 1
        b.level = names[i]
        b.tangent = tuple(tangents[i])
        sizes["height"].append(_span(b.rows, b.cols, tangents[i]))
        sizes[across].append(_span(b.rows, b.cols, np.array([tangents[i][1], -tangents[i][0]])))
        if _touches_border(b.rows, b.cols, mask.shape):
            b.qa.append("touches the image border")
    scale = float(np.mean(spacing_mm)) if spacing_mm is not None else 1.0
    suggested, confidence = suggest_levels(
        {k: np.array(v) * scale for k, v in sizes.items()}, steps, absolute=spacing_mm is not None
    )
    for b, s in zip(bodies, suggested, strict=True):
        b.suggested_level = s
    for xy, note in dropped_at:
        nearest = int(np.argmin(np.hypot(*(centres[order] - xy).T)))
        bodies[nearest].qa.append(f"dropped {note}")
    if not lateral:
        facing, source = "", ""
    elif anterior:
        facing, source = anterior, "override"
    elif facing_hint:
        facing, source = facing_hint, "header"
    else:
        facing, source = _facing(curve, ts, names, suggested, confidence, height)
    return Labelling(
        bodies, [d for _, d in dropped_at], facing, source, confidence, height, mask.shape
    )


def spine_only(mask: np.ndarray) -> np.ndarray:
    """The mask without what the labelling drops (specks, fragments, objects off the spine
    curve), as whole connected components: the kept ones are not cut or changed."""
    mask = np.asarray(mask).astype(bool)
    components, _ = ndi.label(mask, structure=np.ones((3, 3)))
    kept = [components[v.rows, v.cols] for v in label_bodies(mask).vertebrae]
    return np.isin(components, np.unique(np.concatenate(kept))) if kept else np.zeros_like(mask)

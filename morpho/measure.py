"""Six-point morphometry of labelled vertebrae: points, heights, area, ratios, Genant."""

from __future__ import annotations

import functools
from dataclasses import replace

import cv2
import numpy as np
import pandas as pd

from morpho.grade import (
    DEVIANT_Z,
    GRADE_LIMITS,
    expected_ratio,
    film_z,
    genant,
    height_loss,
    neighbour_mean,
    neighbour_median,
)
from morpho.label import Labelling, Vertebra, label_bodies
from morpho.label.geometry import small_median
from morpho.label.labelling import BORDER_NOTE, DOUBTFUL_SPLITS
from morpho.landmarks import LandmarkModel
from morpho.preprocess import PreprocessConfig, equalised

POINTS = [f"{p}_{e}" for e in ("sup", "inf") for p in ("ant", "mid", "post")]


def six_points(row) -> np.ndarray:
    """A row's six points (``POINTS`` order) as a (6, 2) float array of x, y."""
    return np.array([[row[f"{p}_x"], row[f"{p}_y"]] for p in POINTS], np.float64)

MEASUREMENT_COLUMNS = [
    "image", "index", "level", "cx", "cy",
    *[f"{p}_{xy}" for p in POINTS for xy in ("x", "y")],
    "ha_px", "hm_px", "hp_px", "ha_mm", "hm_mm", "hp_mm", "spacing_source",
    "area_px", "wedge_ratio", "biconcave_ratio", "crush_ratio",
    "genant_grade", "genant_type", "facing", "qa",
]
EXTRA_COLUMNS = [
    "suggested_level", "suggested_confidence", "facing_source", "view",
    "depth_px", "aspect", "neighbour_ratio", "plausible", "confidence",
    "expected_wedge", "expected_biconcave", "wedge_z", "biconcave_z", "crush_z", "height_loss",
    "points_source", "landmark_spread",
]
ROUNDING = {
    **{c: 2 for c in MEASUREMENT_COLUMNS if c.endswith(("_x", "_y", "_px", "_mm"))},
    "cx": 2, "cy": 2, "wedge_ratio": 4, "biconcave_ratio": 4, "crush_ratio": 4,
    "suggested_confidence": 3, "aspect": 3, "neighbour_ratio": 3, "depth_px": 2,
    "confidence": 3, "expected_wedge": 3, "expected_biconcave": 3, "wedge_z": 2,
    "biconcave_z": 2, "crush_z": 2, "height_loss": 4, "landmark_spread": 3,
}
INSET = 0.08  # anterior/posterior points sit this fraction of the depth inside the edges
SPREAD = 0.03  # each point's endplate is the mean over columns this far (x the depth) around it
SPREAD_SAMPLES = 5
CORNER_BAND = (0.15, 0.4)  # endplate lines fitted this far in (share of the depth) from a wall
CORNER_SAMPLES = 7  # columns sampled over that band
CORNER_TOLERANCE = 1.0  # px the outline may lie inside that line before the line is used
WALL = 0.25  # columns lower than this share of the central height are not the body proper
SHEAR = 0.05  # endplates offset by more than this share of the depth: a sheared body
WORK_SIDE = 1536  # a mask measured with its probability is reduced below twice this size
# A mask with its probability under SMALL_SIDE px on its long side (a downsampled export,
# e.g. 320x390) is measured on its probability enlarged (bilinear) by the whole number that
# brings it nearest 2 x SMALL_SIDE: the measuring's pixel-sized steps (edge smoothing,
# rises, tolerances) were set on films of 512 px or more. 240 realism DRRs each at 320 px
# (x3): chest CT intact bodies called 9.6 -> 6.0%, held-out CT 2.5 -> 2.0%, its real
# fracture found 222 -> 224 of 240; but the 16 fractured held-out DRRs at 320 px: grade >= 2
# sensitivity / specificity 0.750 / 0.843 -> 0.643 / 0.922. A 512-px film enlarged x2
# would lose sensitivity (held-out DRRs 0.750 -> 0.679), so 512 px and more stay as they are.
SMALL_SIDE = 512
MIN_SOLIDITY = 0.8  # below this the outline is too irregular to grade
CONCAVE_CENTRE = 0.2  # an endplate concavity that is deepest (to CONCAVE_PEAK) within this
CONCAVE_PEAK = 0.8  # share of the depth of its middle is biconcave and counts as body
# A body outline is plausible (issue 24) when its posterior height over its depth lies in
# ASPECT (no normal body, T1-L5, is a flat slab or twice as tall as deep: a merged pair or a
# fragment is) and its posterior height over the median of up to NEIGHBOURS bodies each
# side lies in NEIGHBOUR_RATIO (neighbouring bodies differ by a few percent in height).
ASPECT = (0.55, 1.25)
NEIGHBOUR_RATIO = (0.75, 1.33)
NEIGHBOURS = 2
MERGED = 1.6  # over this many times its neighbours' height a body is two (a pair is ~2x)
# below this mean body probability inside a body the model was unsure of its outline (a
# body's interior is ~0.95-1.0, a disc it bridged ~0.5-0.7; the bundled sample's sound
# bodies 0.80-0.92, its two cut-short outlines 0.72 and 0.78: at 0.75 its T2, 23% short,
# is graded a crush)
MIN_CONFIDENCE = 0.8
GIVEN_FACING = ("override", "header")  # facings the landmark network does not second-guess
# Middle points from the radiograph: the central endplate lies inside the silhouette (whose
# edge follows the rims), and a film shows it as a bright cortical line or a step. Along
# the middle column, from MID_OUT outside to MID_IN inside the outline's middle point
# (shares of the body's height; moved with the walls where those move), the profile
# (smoothed over EDGE_SMOOTH px) rises most steeply into the endplate; the endplate is
# half-way between that point and where the rise drops below half (within RISE_BACK): on
# phantoms the steepest rise alone lies ~1 px outside the true endplate. Within SNAP_PX of
# the outline's own middle point the two are taken as the same edge (detector blur and the
# smoothing move a film's edge by about a pixel) and the outline, the finer, is kept
# (1 px: CLI phantoms' MAPE 1.60%, 1.5 px: 1.48%; DRR Hm 6.2% / 6.3%). A rise under
# MIN_RISE (of the film's 1-99th percentile range per px) is no edge. For a predicted
# outline MIN_RISE_PREDICTED, twice that, keeps weak texture and rib crossings from moving
# points (vertebra_unet-6f6b464b1a67: graded bodies called grade >= 2 on 26 intact chest
# DRRs exported at 320 px 18.6% -> 12.2%; held-out DRRs grade >= 2 sensitivity 0.643 ->
# 0.714, specificity 0.915 -> 0.932, Hm MAPE 6.1 -> 5.6%; fractured phantoms unchanged;
# 0.03 and 0.04 cost DRR sensitivity). An exact mask keeps 0.01 (at 0.02 its held-out
# fractured DRRs lose a grade-2 call: sensitivity 0.964 -> 0.929, Hm 7.2 -> 8.2%).
# (MID_IN 0.3 from the walls' chord instead: DRR Hm MAPE 11.6% against 6.2%.) A predicted
# outline can fall short of the endplate by more than an exact one: its search reaches
# MID_OUT_PREDICTED outside (vertebra_unet-3e28c5149b90, 0.1 -> 0.15: held-out DRRs
# specificity 0.993 -> 0.996, sensitivity 0.750 both, Hm MAPE 4.0 -> 4.4%; 240 chest-CT
# realism DRRs at 320 px, intact bodies called 10.0 -> 9.6%; held-out CT 2.6 -> 2.5%). An
# exact mask keeps 0.1 (at 0.15 its held-out DRRs' Hm MAPE is 6.4% against 4.2%: the
# search reaches the neighbour's endplate across the disc).
EDGE_SMOOTH = 1.0
MID_OUT, MID_IN = 0.1, 0.2
MID_OUT_PREDICTED = 0.15
RISE_BACK = 0.1
MIN_RISE = 0.01
MIN_RISE_PREDICTED = 0.02
SNAP_PX = 1.5
# A predicted outline (the segmenter's, with its probability) can fall short of the body
# or overshoot it: its anterior points are moved, first, onto the rise nearest the
# outline, from WALL_OUT outside to WALL_IN inside it, among the rises at least
# NEAREST_SHARE of the steepest (not the neighbour's endplate beyond the disc). That is
# where a wedge fracture shows. The posterior points stay on the outline: there the film's
# rise is blurred by the pedicles and lies inside the corner (vertebra_unet-3e28c5149b90,
# held-out-CT DRRs with both walls moved / the anterior alone: intact Hp MAPE 12.7 / 4.6%,
# grade >= 2 sensitivity 0.750 / 0.750, specificity 0.982 / 0.993, bodies graded 275 / 297
# of 381; 240 held-out realism DRRs at 320 px: intact bodies called 4.3 / 2.6%, not
# gradable 30.7 / 27.5%). An exact mask's walls are kept.
WALL_OUT, WALL_IN = 0.25, 0.15
NEAREST_SHARE = 0.6
# A body's endplate has a disc beyond it, darker than the bone just inside. Where, over
# the central DISC_COLUMNS of an endplate's chord, the film from DISC_BAND (shares of the
# height) outside the chord is brighter than the same band inside by more than NO_DISC (of
# the film's 1-99th percentile range), the outline's endplate lies inside the bone: on
# held-out-CT DRRs, where a cut between the model's confident cores ran through a body
# below its true endplate. Such a cut body is not graded (vertebra_unet-6f6b464b1a67:
# held-out DRRs' false grade >= 2 calls 19 -> 5, true ones 20 -> 20, gradable bodies 313
# -> 265; the 320-px proxy for real films: false calls 23 -> 20, gradable 188 -> 179;
# phantoms: true calls 51 -> 50; 0.10 also refused 2 true DRR calls).
DISC_COLUMNS = 0.3  # each side of the chord's middle, as a share of its length
DISC_BAND = (0.06, 0.2)
NO_DISC = 0.15
# levels whose shape Genant's height ratios do not describe
NOT_GRADED = {
    "C1": "C1 has no vertebral body",
    "C2": "C2 (the dens) is not graded",
    "S1": "the sacrum (S1) is not graded",
}


def _frame(v: Vertebra, facing: str) -> tuple[np.ndarray, np.ndarray]:
    """Unit axis ``u`` (caudal) and ``a`` (anterior; image left in AP) at the body."""
    u = np.array(v.tangent, float)
    perp = np.array([u[1], -u[0]])  # image right when the spine runs down the image
    a = perp if facing == "right" else -perp
    return u, a


def _refine(d: np.ndarray, u: np.ndarray, a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Turn the frame so that ``a`` follows the mean direction of the two endplates.

    ``d`` are boundary pixels relative to the centre. The endplates are lines fitted to the
    top and bottom boundary over the central 80% of the depth; a turn smaller than the
    pixel quantisation (1.5 px over that width) is ignored.
    """
    s, q = d @ u, d @ a
    lo, hi = q.min() + 0.1 * np.ptp(q), q.max() - 0.1 * np.ptp(q)
    sel = (q >= lo) & (q <= hi)
    bins = np.round(q[sel] - lo).astype(int)
    if sel.sum() < 6 or np.unique(bins).size < 3:
        return u, a
    top = np.full(bins.max() + 1, np.inf)
    bottom = np.full(bins.max() + 1, -np.inf)
    np.minimum.at(top, bins, s[sel])
    np.maximum.at(bottom, bins, s[sel])
    span = bottom - top
    ok = np.isfinite(span) & (span >= 0.5 * np.median(span[np.isfinite(span)]))
    if ok.sum() < 3:
        return u, a
    x = np.nonzero(ok)[0]
    dx = x - x.mean()  # least-squares slopes of the two endplates (np.polyfit's, less overhead)
    slope = 0.5 * (dx @ (top[ok] + bottom[ok])) / (dx @ dx)
    if abs(slope) < 1.5 / max(hi - lo, 1.0) or abs(slope) > np.tan(np.radians(30)):
        return u, a
    a2 = a + slope * u
    u2 = u - slope * a
    return u2 / np.linalg.norm(u2), a2 / np.linalg.norm(a2)


def _sample_lines(
    crop: np.ndarray, origin: np.ndarray, centre: np.ndarray, u: np.ndarray, a: np.ndarray,
    qs: np.ndarray, reach: float,
) -> tuple[np.ndarray, np.ndarray]:
    """The body (``crop``, float32 0-1, bilinear) along the lines ``centre + q a + s u``, one
    per ``q`` in ``qs``, at ``s`` over +-``reach`` in quarter pixels: returns (s grid,
    values)."""
    grid = np.arange(-reach, reach + 0.25, 0.25)
    pts = (centre + qs[:, None, None] * a + grid[None, :, None] * u - origin).astype(np.float32)
    vals = cv2.remap(crop, pts[..., 0], pts[..., 1], cv2.INTER_LINEAR,
                     borderMode=cv2.BORDER_CONSTANT, borderValue=0.0)
    return grid, vals


def _endplates(grid: np.ndarray, vals: np.ndarray, end: str) -> np.ndarray:
    """Where each sampled line (see ``_sample_lines``) first enters the body from above
    (``end="sup"``) or last leaves it below (``"inf"``): ``s`` to sub-pixel precision, NaN
    where the line misses the body or does not leave it."""
    inside = vals >= 0.5
    first = np.argmax(inside, axis=1)
    last = grid.size - 1 - np.argmax(inside[:, ::-1], axis=1)
    ok = inside.any(axis=1) & (first > 0) & (last < grid.size - 1)
    i_in = np.where(ok, first if end == "sup" else last, 1)
    i_out = i_in - 1 if end == "sup" else np.where(ok, i_in + 1, 0)
    rows = np.arange(vals.shape[0])
    v_in, v_out = vals[rows, i_in], vals[rows, i_out]
    with np.errstate(divide="ignore", invalid="ignore"):
        s = grid[i_out] + (0.5 - v_out) / (v_in - v_out) * (grid[i_in] - grid[i_out])
    return np.where(ok, s, np.nan)


@functools.cache
def _pairs(n: int) -> tuple[np.ndarray, np.ndarray]:
    return np.triu_indices(n, k=1)


def _theil_sen(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Slope (median of the pairwise slopes) and intercept of a robust line y = a + b x:
    ``scipy.stats.theilslopes`` for a handful of points without its per-call overhead (it
    took 40% of the measuring time)."""
    i, j = _pairs(x.size)
    slope = small_median((y[j] - y[i]) / (x[j] - x[i]))
    return slope, small_median(y) - slope * small_median(x)


def _corner(s_direct: float, band: np.ndarray, s_band: np.ndarray, q: float, end: str) -> float:
    """The endplate (``s``) at column ``q`` near a wall: the outline there (``s_direct``),
    unless it lies more than ``CORNER_TOLERANCE`` px inside a robust (Theil-Sen) line
    through the endplate over ``band`` (columns further in, where it is ``s_band``),
    extended to ``q``. A rounded or ragged corner of a predicted outline then does not
    shorten the anterior and posterior heights, while a sharp outline keeps its exact point
    (the line cannot follow a concave endplate)."""
    known = np.isfinite(s_band)
    if not np.isfinite(s_direct) or known.sum() < 3:
        return s_direct
    slope, intercept = _theil_sen(band[known], s_band[known])
    s_line = intercept + slope * q
    inside = s_direct - s_line if end == "sup" else s_line - s_direct
    return s_direct if inside <= CORNER_TOLERANCE else s_line


def _body_depth(xy: np.ndarray, u: np.ndarray, a: np.ndarray) -> tuple[float, float]:
    """Posterior..anterior extent (along ``a``) of the body proper: the run of columns
    around the centre whose height is at least ``WALL`` of the central columns' median, so
    that a thin tag or bulge of the outline does not move the walls."""
    s, q = xy @ u, xy @ a
    q0 = np.floor(q.min())
    bins = (q - q0).astype(int)
    top = np.full(bins.max() + 1, np.inf)
    bottom = np.full(bins.max() + 1, -np.inf)
    np.minimum.at(top, bins, s)
    np.maximum.at(bottom, bins, s)
    height = np.where(np.isfinite(top), bottom - top + 1, 0.0)
    n = height.size
    central = height[n // 4 : max(n - n // 4, n // 4 + 1)]
    tall = height >= WALL * np.median(central)
    centre = min(int(-q0), n - 1)
    if not tall[centre]:
        return q.min(), q.max()
    lo = centre - np.argmin(tall[centre::-1]) + 1 if not tall[: centre + 1].all() else 0
    hi = centre + np.argmin(tall[centre:]) - 1 if not tall[centre:].all() else n - 1
    return q0 + lo, q0 + hi + 1


def _spans(d: np.ndarray, u: np.ndarray, a: np.ndarray) -> dict[str, tuple[float, float]]:
    """Posterior..anterior extent (along ``a``) of each endplate, between its corners: the
    outline points furthest along the diagonals (anterior-superior = most ``a - u``, ...),
    so that a body sheared sideways gets its points on its own endplates. Unless the two
    endplates are offset by ``SHEAR`` of the depth, both span the body's full depth."""
    s, q = d @ u, d @ a
    sup = (q[np.argmax(-q - s)] - 0.5, q[np.argmax(q - s)] + 0.5)
    inf = (q[np.argmax(-q + s)] - 0.5, q[np.argmax(q + s)] + 0.5)
    whole = (q.min() - 0.5, q.max() + 0.5)
    if abs(sum(sup) - sum(inf)) / 2 < SHEAR * (whole[1] - whole[0]):
        return {"sup": whole, "inf": whole}  # not sheared: both over the full depth
    return {"sup": sup, "inf": inf}


def _concavity(q: np.ndarray, s: np.ndarray, chord: tuple[float, float, float, float],
               end: str) -> float:
    """Area (px) by which an endplate, sampled at columns ``q`` (``s`` along the axis), lies
    inside the chord between its anterior and posterior points ``(q0, s0, q1, s1)``."""
    q0, s0, q1, s1 = chord
    lo, hi = min(q0, q1), max(q0, q1)
    keep = np.isfinite(s) & (q > lo) & (q < hi)
    if not np.isfinite([s0, s1]).all() or hi - lo < 1:
        return 0.0
    qq = np.concatenate([[q0, q1], q[keep]])
    ss = np.concatenate([[s0, s1], s[keep]])
    order = np.argsort(qq)
    qq, ss = qq[order], ss[order]
    inside = ss - (s0 + (qq - q0) * (s1 - s0) / (q1 - q0))
    inside = np.maximum(inside if end == "sup" else -inside, 0.0)
    centre = np.abs(qq - 0.5 * (q0 + q1)) <= CONCAVE_CENTRE * (hi - lo)
    if not centre.any() or inside[centre].max() < CONCAVE_PEAK * inside.max():
        return 0.0  # deepest off the centre: a bite, not a biconcave endplate
    return float(np.sum(0.5 * (inside[1:] + inside[:-1]) * np.diff(qq)))  # trapezoid rule


def _solidity(crop: np.ndarray, contour: np.ndarray, concave: float) -> float:
    """Area over convex hull area (the hull through pixel centres, widened by half a pixel),
    with the endplates' central concavity (``concave`` px, see ``_concavity``) counted as
    body: a biconcave fracture is a regular outline to grade, not an irregular one."""
    hull = cv2.convexHull(contour)
    hull_area = cv2.contourArea(hull) + 0.5 * cv2.arcLength(hull, True) + np.pi
    return float(min(1.0, (crop.sum() + concave) / hull_area))


def _field_crop(crop: np.ndarray, field: np.ndarray, r0: int, c0: int) -> np.ndarray:
    """The body's probability over its crop: at least 0.5 on the body, under 0.5 on the
    ring of pixels around it, 0 further out, so the 0.5 crossings keep the body's outline
    and place it to sub-pixel precision between its pixels."""
    h, w = field.shape
    y0, x0 = max(r0, 0), max(c0, 0)
    y1, x1 = min(r0 + crop.shape[0], h), min(c0 + crop.shape[1], w)
    values = np.zeros(crop.shape, np.float32)
    values[y0 - r0 : y1 - r0, x0 - c0 : x1 - c0] = field[y0:y1, x0:x1]
    ring = cv2.dilate(crop, np.ones((3, 3), np.uint8)) > crop
    return np.where(crop > 0, np.maximum(values, 0.5),
                    np.where(ring, np.minimum(values, 0.4999), 0.0)).astype(np.float32)


def _endplate_columns(
    q_post: float, q_ant: float
) -> tuple[dict[str, float], dict[str, np.ndarray], np.ndarray, int]:
    """Where one endplate is sampled: the three points' columns (``INSET`` from the walls),
    the corner bands (``CORNER_BAND``), and all sampled positions (the points' columns with
    ``SPREAD`` around each, then both bands) with how many of them are the points'."""
    depth = q_ant - q_post
    inset = max(1.0, INSET * depth)
    columns = {"ant": q_ant - inset, "mid": 0.5 * (q_ant + q_post), "post": q_post + inset}
    inward = depth * np.linspace(*CORNER_BAND, CORNER_SAMPLES)
    bands = {"ant": q_ant - inward, "post": q_post + inward}
    spread = depth * SPREAD * np.linspace(-1, 1, SPREAD_SAMPLES)
    around = (np.array(list(columns.values()))[:, None] + spread).ravel()
    return columns, bands, np.concatenate([around, bands["ant"], bands["post"]]), around.size


def _place_endplate(
    q_post: float, q_ant: float, end: str, sampled: tuple[np.ndarray, np.ndarray]
) -> tuple[dict[str, float], dict[str, float], float]:
    """One endplate's three points: their columns and offsets along the height axis (the
    mean over the columns around each where all meet the endplate, else its own column;
    corners from the band's endplate line where the outline rounds them), and the
    endplate's concavity."""
    columns, bands, qs, n_around = _endplate_columns(q_post, q_ant)
    s = _endplates(*sampled, end)
    near, band = s[:n_around].reshape(3, SPREAD_SAMPLES), s[n_around:]
    whole = np.isfinite(near).all(axis=1)
    middle = near[:, SPREAD_SAMPLES // 2]
    offsets = dict(zip(columns, np.where(whole, near.mean(axis=1), middle), strict=True))
    for k, name in enumerate(("ant", "post")):
        band_s = band[CORNER_SAMPLES * k : CORNER_SAMPLES * (k + 1)]
        offsets[name] = _corner(offsets[name], bands[name], band_s, columns[name], end)
    chord = (columns["ant"], offsets["ant"], columns["post"], offsets["post"])
    return columns, offsets, _concavity(qs, s, chord, end)


def measure_vertebra(
    v: Vertebra, facing: str, field: np.ndarray | None = None,
    film: tuple[np.ndarray, tuple[float, float]] | None = None, predicted: bool = False,
) -> dict:
    """The six points, three heights (px), area and solidity of one body; ``field`` (the
    body probability, the mask's size) places the endplates between pixels; ``film``
    (see ``_film``) moves the middle points onto the central endplates it shows."""
    r0, c0 = v.rows.min() - 2, v.cols.min() - 2
    crop = np.zeros((v.rows.max() - r0 + 3, v.cols.max() - c0 + 3), np.uint8)
    crop[v.rows - r0, v.cols - c0] = 1
    contours, _ = cv2.findContours(crop, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    contour = np.vstack(contours)
    origin = np.array([c0, r0], float)
    centre = np.array([v.cols.mean(), v.rows.mean()])
    d = contour[:, 0, :] + origin - centre
    u, a = _refine(d, *_frame(v, facing))
    reach = float(np.abs(d @ u).max()) + 3.0
    q_lo, q_hi = _body_depth(np.column_stack([v.cols, v.rows]) - centre, u, a)
    q = d @ a
    d = d[(q >= q_lo - 1) & (q <= q_hi + 1)]
    row = {"cx": centre[0], "cy": centre[1], "area_px": v.area}
    found, concave = True, 0.0
    image = crop.astype(np.float32) if field is None else _field_crop(crop, field, r0, c0)
    sampled: dict[tuple[float, float], tuple[np.ndarray, np.ndarray]] = {}
    spans = _spans(d, u, a)
    placed: dict[str, tuple[dict[str, float], dict[str, float]]] = {}
    row["depth_px"] = float(np.mean([q1 - q0 for q0, q1 in spans.values()]))
    for end, (q_post, q_ant) in spans.items():
        if (q_post, q_ant) not in sampled:  # both endplates span the same columns
            qs = _endplate_columns(q_post, q_ant)[2]
            sampled[q_post, q_ant] = _sample_lines(image, origin, centre, u, a, qs, reach)
        columns, offsets, bend = _place_endplate(q_post, q_ant, end, sampled[q_post, q_ant])
        for name, qk in columns.items():
            found &= bool(np.isfinite(offsets[name]))
            row[f"{name}_{end}_x"], row[f"{name}_{end}_y"] = centre + qk * a + offsets[name] * u
        concave += bend
        placed[end] = (columns, offsets)
    row["found"] = found
    row["solidity"] = _solidity(crop, contour, concave)
    row["points_source"], row["no_disc"], row["landmark_spread"] = "mask", "", np.nan
    if film is not None and found:
        moved = _from_film(film, centre, u, a, placed, walls=field is not None or predicted)
        for end, (columns, offsets) in placed.items():
            for name, qk in columns.items():
                row[f"{name}_{end}_x"], row[f"{name}_{end}_y"] = centre + qk * a + offsets[name] * u
        row["points_source"] = {(4 if field is not None or predicted else 2): "image",
                                0: "mask"}.get(moved, "image+mask")
        if predicted and v.split:  # only a cut predicted outline is checked (NO_DISC)
            row["no_disc"] = ", ".join(
                end for end in ("sup", "inf")
                if _beyond_endplate(film, centre, u, a, placed, end) > NO_DISC)
    return row


def _film(pixels: np.ndarray, shape: tuple[int, int]) -> tuple[np.ndarray, tuple[float, float]]:
    """The radiograph scaled to 0-1 over its 1-99th percentiles (float32), and its pixel
    size in mask pixels (x, y) for a mask of ``shape``."""
    image = np.asarray(pixels, np.float32)
    lo, hi = np.percentile(image[::4, ::4], [1, 99])
    image = (image - lo) / max(float(hi - lo), 1e-6)
    return image, (image.shape[1] / shape[1], image.shape[0] / shape[0])


def _profile(film: tuple[np.ndarray, tuple[float, float]], point: np.ndarray,
             inward: np.ndarray, t: np.ndarray, across: np.ndarray) -> np.ndarray:
    """The film along ``point + t * inward`` (mask pixels), averaged over the parallel
    lines offset by ``across``, smoothed over ``EDGE_SMOOTH`` px."""
    image, (zx, zy) = film
    pts = point + t[None, :, None] * inward + across[:, None, :]
    xs = ((pts[..., 0] + 0.5) * zx - 0.5).astype(np.float32)
    ys = ((pts[..., 1] + 0.5) * zy - 0.5).astype(np.float32)
    values = cv2.remap(image, xs, ys, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    step = t[1] - t[0]
    return cv2.GaussianBlur(values.mean(axis=0)[None, :], (0, 0), EDGE_SMOOTH / step)[0]


def _edge(t: np.ndarray, values: np.ndarray, back: float, min_rise: float = MIN_RISE) -> float:
    """The endplate on a profile (``t`` inward): half-way between its steepest rise and
    where, within ``back`` after it, the rise drops below half; NaN when it rises less
    than ``min_rise``."""
    rise = np.gradient(values, t)
    k = int(np.argmax(rise))
    if rise[k] < min_rise:
        return np.nan
    after = np.nonzero((t > t[k]) & (t <= t[k] + back) & (rise < 0.5 * rise[k]))[0]
    top = after[0] if after.size else min(int(np.searchsorted(t, t[k] + back)), t.size - 1)
    return 0.5 * float(t[k] + t[top])


def _nearest_rise(t: np.ndarray, values: np.ndarray, ahead: float,
                  min_rise: float = MIN_RISE) -> float:
    """The rise (``t`` inward) nearest ``t`` = 0 among those at least ``NEAREST_SHARE`` of
    the steepest, moved half-way to the brightest point within ``ahead`` after it; NaN
    when none reaches ``min_rise``."""
    rise = np.gradient(values, t)
    if rise.max() < min_rise:
        return np.nan
    peaks = np.nonzero((rise[1:-1] >= rise[:-2]) & (rise[1:-1] >= rise[2:])
                       & (rise[1:-1] >= NEAREST_SHARE * rise.max()))[0] + 1
    if not peaks.size:
        return np.nan
    k = peaks[np.argmin(np.abs(t[peaks]))]
    after = np.nonzero((t >= t[k]) & (t <= t[k] + ahead))[0]
    top = after[np.argmax(values[after])]
    return 0.5 * float(t[k] + t[top])


def _from_film(film: tuple[np.ndarray, tuple[float, float]], centre: np.ndarray,
               u: np.ndarray, a: np.ndarray,
               placed: dict[str, tuple[dict[str, float], dict[str, float]]],
               walls: bool = False) -> int:
    """Move the points (``placed``: per endplate, column -> ``q`` and ``s``) onto the
    film's endplate edges: with ``walls`` (a predicted outline) the anterior ones first,
    then the middle ones. Changes ``placed``; returns how many moved."""
    min_rise = MIN_RISE_PREDICTED if walls else MIN_RISE
    height = placed["inf"][1]["post"] - placed["sup"][1]["post"]
    t_mid = np.arange(-(MID_OUT_PREDICTED if walls else MID_OUT) * height,
                      MID_IN * height + 0.25, 0.25)
    t_wall = np.arange(-WALL_OUT * height, WALL_IN * height + 0.25, 0.25)
    moved = 0
    for end, (columns, offsets) in placed.items():
        sign = 1.0 if end == "sup" else -1.0  # inward: caudal from the superior endplate
        spread = (SPREAD * abs(columns["ant"] - columns["post"])
                  * np.linspace(-1, 1, SPREAD_SAMPLES))[:, None] * a
        shift = -0.5 * (offsets["ant"] + offsets["post"])
        if walls:  # the anterior point; the posterior one stays on the outline
            point = centre + columns["ant"] * a + offsets["ant"] * u
            profile = _profile(film, point, sign * u, t_wall, spread)
            edge = _nearest_rise(t_wall, profile, RISE_BACK * height, min_rise)
            if np.isfinite(edge):
                offsets["ant"] += sign * edge
                moved += 1
        start = offsets["mid"] + shift + 0.5 * (offsets["ant"] + offsets["post"])
        point = centre + columns["mid"] * a + start * u
        profile = _profile(film, point, sign * u, t_mid, spread)
        edge = _edge(t_mid, profile, RISE_BACK * height, min_rise)
        if np.isfinite(edge):
            if abs(start + sign * edge - offsets["mid"]) > SNAP_PX:
                offsets["mid"] = start + sign * edge
            moved += 1
    return moved


def _beyond_endplate(film: tuple[np.ndarray, tuple[float, float]], centre: np.ndarray,
                     u: np.ndarray, a: np.ndarray,
                     placed: dict[str, tuple[dict[str, float], dict[str, float]]],
                     end: str) -> float:
    """How much brighter the film is just outside one endplate than just inside it
    (``DISC_BAND``, over the chord's central ``DISC_COLUMNS``); positive: no disc beyond."""
    columns, offsets = placed[end]
    ant = columns["ant"] * a + offsets["ant"] * u
    post = columns["post"] * a + offsets["post"] * u
    height = placed["inf"][1]["post"] - placed["sup"][1]["post"]
    outward = -u if end == "sup" else u
    across = np.linspace(-DISC_COLUMNS, DISC_COLUMNS, 7)[:, None] * (post - ant)
    t = np.linspace(DISC_BAND[0], DISC_BAND[1], 8) * height
    outside = _profile(film, centre + 0.5 * (ant + post), outward, t, across)
    inside = _profile(film, centre + 0.5 * (ant + post), -outward, t, across)
    return float(outside.mean() - inside.mean())


def measure_labelling(
    lab: Labelling,
    *,
    spacing_mm: tuple[float, float] | None = None,
    spacing_source: str = "none",
    view: str = "lateral",
    image: str = "",
    field: np.ndarray | None = None,
    pixel_scale: tuple[float, float] = (1.0, 1.0),
    probability: np.ndarray | None = None,
    pixels: np.ndarray | None = None,
    landmarks: LandmarkModel | None = None,
) -> pd.DataFrame:
    """One row per vertebra of a labelling, with the public columns then the extras.

    ``pixels``: the radiograph (any size, bone bright), on whose endplate edges the six
    points are placed (lateral films; ``points_source`` says which were);
    ``field``: the body probability at the mask's size (see ``measure_vertebra``);
    ``probability``: the segmenter's at the mask's size, for each body's ``confidence``;
    ``pixel_scale`` (x, y): the size of a mask pixel in the pixels of the image the mask
    was reduced from, into which positions, heights and areas are mapped back;
    ``landmarks`` (lateral films with ``pixels``) then moves the six points of every body
    whose points were found to where the landmark network puts them, and turns the
    film's facing where the network reads the bodies better the other way round, unless
    the caller or the header gave it (``facing_source`` "landmarks")."""
    columns = MEASUREMENT_COLUMNS + EXTRA_COLUMNS
    if not lab.vertebrae:
        df = pd.DataFrame(columns=columns)
        df.attrs["dropped"] = lab.dropped
        return df
    lateral = view not in ("ap", "pa")
    film = None if pixels is None or not lateral else _film(pixels, lab.shape)
    predicted = probability is not None  # the segmenter's outline: walls from the film too
    rows = [measure_vertebra(v, lab.facing, field, film, predicted) for v in lab.vertebrae]
    facing, facing_source = lab.facing, lab.facing_source
    if landmarks is not None and film is not None:
        facing = _from_landmarks(rows, landmarks, pixels, film[1], facing,
                                 check_facing=facing_source not in GIVEN_FACING)
        facing_source = "landmarks" if facing != lab.facing else facing_source
        lab, rows = _one_reading_per_body(lab, rows)
    col = _heights({k: np.array([r[k] for r in rows]) for k in rows[0]}, pixel_scale,
                   spacing_mm)  # fmt: skip
    col.update(plausibility(col["hp_px"], col["depth_px"]))
    col["confidence"] = _confidence(lab.vertebrae, probability)
    grades, types, qas = _grade_all(lab.vertebrae, col, lateral, predicted)
    col.update(
        genant_grade=pd.array(grades, dtype="Int64"), genant_type=types, qa=qas, image=image,
        index=[v.index for v in lab.vertebrae], level=[v.level for v in lab.vertebrae],
        spacing_source=spacing_source if spacing_mm else "none", facing=facing,
        suggested_level=[v.suggested_level for v in lab.vertebrae],
        suggested_confidence=lab.suggested_confidence, facing_source=facing_source,
        view="lateral" if lateral else "ap",
    )
    for name, digits in ROUNDING.items():
        col[name] = np.round(col[name], digits)
    df = pd.DataFrame({name: col[name] for name in columns}, index=range(len(rows)))
    df.attrs["dropped"] = lab.dropped
    return df


def _from_landmarks(rows: list[dict], model: LandmarkModel, pixels: np.ndarray,
                    zoom: tuple[float, float], facing: str, check_facing: bool = True) -> str:
    """Put the landmark network's six points (from the film, ``pixels``; ``zoom``: its
    pixels per mask pixel, x and y) in place of each found body's in ``rows``, with
    ``landmark_spread``: the largest of their heatmaps' spreads over the new Hp. The
    endplates are then the film's, not a cut outline's: ``no_disc`` no longer applies.
    With ``check_facing``, the network also reads the bodies mirrored, and the film's
    facing is the one whose heatmaps are tighter (median spread): it has only seen
    anterior on the left, and a mirrored body blurs them (on 672 held-out and proxy DRRs
    it turned exactly the 18 films the curvature and anatomy had facing wrong, at a
    median 1.5x the spread). Returns the facing."""
    found = [row for row in rows if row["found"]]
    if not found:
        return facing
    z = np.array(zoom)
    points = (np.array([six_points(row) for row in found]) + 0.5) * z - 0.5
    film = equalised(pixels, PreprocessConfig())
    placed, spread = model.place(film, points, facing)
    if check_facing:
        other = "left" if facing == "right" else "right"
        mirrored = model.place(film, points, other)
        if np.median(mirrored[1]) < np.median(spread):
            facing, (placed, spread) = other, mirrored
    for row, xy, s in zip(found, placed, spread, strict=True):
        for p, (x, y) in zip(POINTS, (xy + 0.5) / z - 0.5, strict=True):
            row[f"{p}_x"], row[f"{p}_y"] = x, y
        row["points_source"], row["no_disc"] = "landmarks", ""
        row["landmark_spread"] = float(s.max() / np.linalg.norm(xy[5] - xy[2]))
        # the film's depth, not the outline's: under the shoulders an outline loses its walls
        # (240 chest-CT proxy films, 320 px: at T1-T5 bodies it called too tall, the outline
        # gave 0.63-0.78 of the truth's depth, these points 0.88-0.98)
        row["depth_px"] = float(point_depth(row))
    return facing


#: Two adjacent bodies whose landmark outlines overlap more than this (intersection over
#: union) are one bone read twice: the labelling cut a body in two and the network, given
#: a crop around each half, placed the whole body's six points for both.
SAME_BONE = 0.4


def _one_reading_per_body(lab: Labelling, rows: list[dict]) -> tuple[Labelling, list[dict]]:
    """One row per bone (see ``SAME_BONE``): the two pieces are joined and the tighter
    reading (lower ``landmark_spread``) kept, its qa saying so; the levels are named again
    (``Labelling.without``). (On 240 chest-CT proxy films at 320 px, 136 bodies were
    measured twice, mostly at T1-T5.)"""
    k = _same_bone(rows)
    if k is None:
        return lab, rows
    lab = replace(lab, vertebrae=[replace(v, qa=list(v.qa)) for v in lab.vertebrae])
    rows = list(rows)
    while k is not None:
        keep, drop = (k, k + 1) if (rows[k]["landmark_spread"]
                                    <= rows[k + 1]["landmark_spread"]) else (k + 1, k)
        kept, gone = lab.vertebrae[keep], lab.vertebrae[drop]
        kept.rows, kept.cols = np.r_[kept.rows, gone.rows], np.r_[kept.cols, gone.cols]
        kept.centre = (float(kept.cols.mean()), float(kept.rows.mean()))
        kept.qa.append(f"joined with the piece {'below' if drop > keep else 'above'}: one "
                       "body, read whole by the landmark network in both")
        if BORDER_NOTE in gone.qa and BORDER_NOTE not in kept.qa:  # cut, as its piece was
            kept.qa.append(BORDER_NOTE)
        rows[keep].update(cx=kept.centre[0], cy=kept.centre[1], area_px=kept.area)
        del rows[drop]
        lab.without(drop)
        k = _same_bone(rows)
    return lab, rows


def _same_bone(rows: list[dict]) -> int | None:
    """The first i whose body and the next were both placed by the landmark network on
    the same bone (outlines overlapping over ``SAME_BONE``), or None."""
    for i in range(len(rows) - 1):
        a, b = rows[i], rows[i + 1]
        if a["points_source"] == b["points_source"] == "landmarks" and (
                _overlap(six_points(a), six_points(b)) > SAME_BONE):
            return i
    return None


def _overlap(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of the convex outlines of two sets of points (x, y)."""
    ha, hb = (cv2.convexHull(p.astype(np.float32)) for p in (a, b))
    inter, _ = cv2.intersectConvexConvex(ha, hb)
    union = cv2.contourArea(ha) + cv2.contourArea(hb) - inter
    return float(inter / union) if union > 0 else 0.0


def point_depth(points: dict | pd.DataFrame) -> float | np.ndarray:
    """A body's depth from its six points (a row or table of ``{ant,post}_{sup,inf}_{x,y}``):
    the mean anterior-posterior span of its two endplates, the points sitting ``INSET``
    inside the walls."""
    widths = [np.hypot(points[f"ant_{e}_x"] - points[f"post_{e}_x"],
                       points[f"ant_{e}_y"] - points[f"post_{e}_y"]) for e in ("sup", "inf")]
    return np.mean(widths, axis=0) / (1 - 2 * INSET)


def _heights(col: dict[str, np.ndarray], pixel_scale: tuple[float, float],
             spacing_mm: tuple[float, float] | None) -> dict[str, np.ndarray]:
    """Positions, areas and depths mapped back by ``pixel_scale`` (x, y), then the heights
    and ratios (``point_heights``)."""
    sx, sy = pixel_scale
    for name in ("cx", *[f"{p}_x" for p in POINTS]):
        col[name] = (col[name] + 0.5) * sx - 0.5
    for name in ("cy", *[f"{p}_y" for p in POINTS]):
        col[name] = (col[name] + 0.5) * sy - 0.5
    col["area_px"] = np.round(col["area_px"] * (sx * sy)).astype(int)
    col["depth_px"] = col["depth_px"] * np.sqrt(sx * sy)
    col.update(point_heights(col, spacing_mm))
    return col


def point_heights(points, spacing_mm: tuple[float, float] | None) -> dict[str, np.ndarray]:
    """Ha/Hm/Hp in px and (with ``spacing_mm``, row and column) mm, Ha/Hp and Hm/Hp, from
    the six points (``{ant,mid,post}_{sup,inf}_{x,y}`` columns of ``points``)."""
    out: dict[str, np.ndarray] = {}
    for key, name in (("a", "ant"), ("m", "mid"), ("p", "post")):
        dx = np.asarray(points[f"{name}_sup_x"], float) - np.asarray(points[f"{name}_inf_x"])
        dy = np.asarray(points[f"{name}_sup_y"], float) - np.asarray(points[f"{name}_inf_y"])
        out[f"h{key}_px"] = np.hypot(dx, dy)
        out[f"h{key}_mm"] = (
            np.hypot(dx * spacing_mm[1], dy * spacing_mm[0]) if spacing_mm
            else np.full(dx.size, np.nan)
        )
    with np.errstate(divide="ignore", invalid="ignore"):
        out["wedge_ratio"] = out["ha_px"] / out["hp_px"]
        out["biconcave_ratio"] = out["hm_px"] / out["hp_px"]
    return out


def _grade_all(vertebrae: list[Vertebra], col: dict[str, np.ndarray], lateral: bool,
               predicted: bool) -> tuple[list, list[str], list[str]]:
    """Genant grade, type and qa text of every body, after the quality gate (``_ungradable``)
    and against the film's normal shape (``film_grades``, which also fills ``col``)."""
    reasons = [_ungradable(v, col, i, lateral, predicted) for i, v in enumerate(vertebrae)]
    col.update(film_grades(col, np.array([not r for r in reasons])))
    grades, types, qas = [], [], []
    for i, v in enumerate(vertebrae):
        grade, kind, note = genant(col["wedge_ratio"][i], col["biconcave_ratio"][i],
                                   col["crush_ratio"][i], reasons[i], col["normal_shape"][i])
        grades.append(grade)
        types.append(kind)
        shape = _implausible(col["aspect"][i], col["neighbour_ratio"][i])
        qa = [*v.qa, shape, f"ungradable: {note}" if reasons[i] else note]
        qas.append("; ".join(q for q in qa if q))
    return grades, types, qas


def plausibility(hp: np.ndarray, depth: np.ndarray) -> dict[str, np.ndarray]:
    """Per body, cranial to caudal: ``aspect`` (posterior height / depth), ``neighbour_ratio``
    (posterior height / median of up to ``NEIGHBOURS`` bodies each side; NaN for a lone
    body) and ``plausible`` (both within their ranges; a lone body on its aspect alone)."""
    aspect = hp / depth
    ratio = hp / neighbour_median(hp, np.isfinite(hp), NEIGHBOURS)
    with np.errstate(invalid="ignore"):
        ok_aspect = (aspect >= ASPECT[0]) & (aspect <= ASPECT[1])
        ok_ratio = (ratio >= NEIGHBOUR_RATIO[0]) & (ratio <= NEIGHBOUR_RATIO[1])
    return {"aspect": aspect, "neighbour_ratio": ratio,
            "plausible": ok_aspect & (ok_ratio | np.isnan(ratio))}


def _implausible(aspect: float, ratio: float) -> str:
    """The ``qa`` note for an implausible outline, empty for a plausible one."""
    notes = []
    if not ASPECT[0] <= aspect <= ASPECT[1]:
        notes.append(f"height/depth {aspect:.2f} (plausible {ASPECT[0]}-{ASPECT[1]})")
    if np.isfinite(ratio) and not NEIGHBOUR_RATIO[0] <= ratio <= NEIGHBOUR_RATIO[1]:
        notes.append(f"height {ratio:.2f}x its neighbours' "
                     f"(plausible {NEIGHBOUR_RATIO[0]}-{NEIGHBOUR_RATIO[1]})")
    return f"implausible shape: {', '.join(notes)}" if notes else ""


def plausibility_summary(df: pd.DataFrame) -> pd.DataFrame:
    """Per image: bodies measured, plausible bodies and their share."""
    grouped = df.assign(plausible=df["plausible"].astype(bool)).groupby("image", sort=False)
    out = grouped.agg(bodies=("plausible", "size"), plausible=("plausible", "sum"))
    out["share_plausible"] = out["plausible"] / out["bodies"]
    return out.reset_index()


def _confidence(vertebrae: list[Vertebra], probability: np.ndarray | None) -> np.ndarray:
    """Mean body probability inside each body; NaN without a probability."""
    if probability is None:
        return np.full(len(vertebrae), np.nan)
    return np.array([float(np.mean(probability[v.rows, v.cols])) for v in vertebrae])


def _too_tall(col: dict[str, np.ndarray]) -> np.ndarray:
    """Bodies taller than one body can be, for their depth or against their neighbours:
    a merged pair, or a strip over a disc. (A body merely over ``NEIGHBOUR_RATIO`` can be a
    normal one beside a crushed one.)"""
    with np.errstate(invalid="ignore"):
        return (col["aspect"] > ASPECT[1]) | (col["neighbour_ratio"] > MERGED)


def film_grades(col: dict[str, np.ndarray], usable: np.ndarray) -> dict[str, np.ndarray]:
    """Crush ratio (against the adjacent bodies not too tall to be one body), the film's
    normal wedge and biconcave ratios, z-scores, and the height loss that sets each
    grade (see ``grade.genant``)."""
    hp = col["hp_px"]
    out = {"crush_ratio": hp / neighbour_mean(np.where(_too_tall(col), np.nan, hp))}
    for name in ("wedge", "biconcave"):
        ratio = col[f"{name}_ratio"]
        out[f"expected_{name}"] = expected_ratio(ratio, usable)
        out[f"{name}_z"] = film_z(ratio, out[f"expected_{name}"], usable)
    out["crush_z"] = film_z(out["crush_ratio"], np.ones(hp.size), usable)
    # wedging is the normal shape the raw rule over-calls; a normal body's Hm/Hp (~0.9 on
    # the DRR truth) is far from a biconcave grade, so only Ha/Hp is excused, and only a
    # mild (grade 1) wedge: a normal body's Ha/Hp is rarely under 0.75 (the 5-10th
    # percentile of intact T5-T10 in the DRR truth is 0.78). Excusing moderate wedges too
    # lost grade >= 2 sensitivity on the 96+96 fractured held-out DRRs (-0.016 / -0.037)
    # for 0.3 points fewer false calls (2.1 -> 1.8%) on 240 chest-CT proxy films.
    mild = col["wedge_ratio"] > 1 - GRADE_LIMITS[1]
    out["normal_shape"] = [(bool(z > -DEVIANT_Z and m), False)
                           for z, m in zip(out["wedge_z"], mild, strict=True)]
    out["height_loss"] = np.array([
        height_loss(w, b, c, n)[0] for w, b, c, n in zip(
            col["wedge_ratio"], col["biconcave_ratio"], out["crush_ratio"],
            out["normal_shape"], strict=True)])
    return out


CRUSH_FLOOR = (0.25, 0.4)  # aspect and neighbour ratio below which no crush is that deep
MAX_REVERSE = 1.15  # a short body with Ha over this x Hp is a cut outline, not a crush
SHORT_CONFIDENCE = 0.9  # a short outline is graded only when the model was this sure of it


def _whole_but_short(v: Vertebra, col: dict[str, np.ndarray], i: int) -> bool:
    """Implausible only by being short, with an outline the labelling neither cut out of a
    larger one nor trimmed of a fragment, a confident model (crushed bodies on DRRs and
    phantoms: 0.93-0.96), neighbours on both sides and Ha not well over Hp: a possible
    crush fracture, which the grading must see. (Without the last two, the bodies cut by
    the CT's edge on 18 chest DRRs exported at 320 px were called crushes: 12 more grade
    >= 2 calls on intact films.) Where the landmark network placed the points, they are
    on the film's endplates: a cut outline counts as whole (the 96+96 fractured held-out
    DRRs: grade >= 2 sensitivity +0.036 / +0.043, specificity the same; the 240-film
    proxies' calls unchanged), and the model's general confidence floor
    (``MIN_CONFIDENCE``) is enough (+0.021 / +0.030; proxies' calls +0.1 points each,
    to 0.4% and 2.2%)."""
    aspect, ratio = col["aspect"][i], col["neighbour_ratio"][i]
    with np.errstate(invalid="ignore"):
        short = aspect < ASPECT[0] or ratio < NEIGHBOUR_RATIO[0]
        too_short = aspect < CRUSH_FLOOR[0] or ratio < CRUSH_FLOOR[1]
    on_film = col["points_source"][i] == "landmarks"
    cut = (bool(v.split) or any(n.startswith("dropped fragment") for n in v.qa)) and not on_film
    sure = on_film or not col["confidence"][i] < SHORT_CONFIDENCE  # NaN: an exact mask
    inner = 0 < i < col["aspect"].size - 1  # an end body may be cut by a field's edge
    shaped = not col["wedge_ratio"][i] > MAX_REVERSE  # a crush keeps Ha near Hp
    return bool(short and not too_short and not cut and sure and inner and shaped)


def _ungradable(v: Vertebra, col: dict[str, np.ndarray], i: int, lateral: bool,
                predicted: bool = False) -> list[str]:
    """Why body ``i`` cannot be graded (empty when it can): never a fracture call from an
    outline that cannot be trusted. A ``predicted`` outline (the segmenter's) that is
    implausible is not graded (on the held-out CT's DRRs, where the default model's
    outlines straddle discs, such bodies made most false calls even with all six points
    on film edges), unless it is only short and whole (``_whole_but_short``): a crush
    fracture is a short body (held-out DRRs, grade >= 2: sensitivity 0.536 -> 0.607,
    specificity 0.796 -> 0.790; fractured phantoms 0.544 -> 0.632, 0.996 -> 0.996).
    An exact mask's short body can be a crush fracture. A body cut from a strip at a disc
    band ("chain") is graded where the landmark network placed its points, on the film's
    endplates (the 96+96 fractured held-out DRRs: grade >= 2 sensitivity +0.067 / +0.037
    with the no-disc check dropped for them too, specificity the same; the 240-film
    proxies' false calls 0.3 -> 0.6% and 1.7 -> 1.9%, not gradable 23.4 -> 2.9% and 20.7
    -> 10.9%)."""
    reasons = []
    if not lateral:
        reasons.append("Genant grading needs a lateral view")
    if not col["found"][i]:
        reasons.append("endplate points not found")
    if v.level in NOT_GRADED:
        reasons.append(NOT_GRADED[v.level])
    if v.doubtful and not (v.doubtful == DOUBTFUL_SPLITS["chain"]
                           and col["points_source"][i] == "landmarks"):
        reasons.append(v.doubtful)  # a chain cut's endplates: the landmark network's
    if any(n.startswith(BORDER_NOTE) for n in v.qa):
        reasons.append("body cut off at the image border")
    if col["solidity"][i] < MIN_SOLIDITY:
        reasons.append(f"irregular outline (solidity {col['solidity'][i]:.2f})")
    if _too_tall(col)[i]:
        reasons.append("implausible outline: too tall for one body")
    elif predicted and not col["plausible"][i] and not _whole_but_short(v, col, i):
        reasons.append("implausible outline (predicted)")
    return reasons + _model_doubts(col, i)


def _model_doubts(col: dict[str, np.ndarray], i: int) -> list[str]:
    """Why the segmenter's outline of body ``i`` cannot be trusted: cut with bone beyond
    an endplate (``no_disc``, set only for cut predicted outlines), or drawn with low
    confidence (NaN, never low, for an exact mask)."""
    reasons = []
    no_disc = col["no_disc"][i]
    if no_disc:
        reasons.append(f"cut outline with bone beyond its {_ENDPLATES[no_disc]} "
                       "on the film: no disc there")
    if col["confidence"][i] < MIN_CONFIDENCE:
        reasons.append(f"low model confidence ({col['confidence'][i]:.2f})")
    return reasons


_ENDPLATES = {"sup": "superior endplate", "inf": "inferior endplate",
              "sup, inf": "superior and inferior endplates"}


def _resized(values: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """A probability map (0-1) at ``size`` (w, h), float32: block means where smaller,
    bilinear where larger."""
    smaller = size[0] < values.shape[1]
    return cv2.resize(values.astype(np.float32), size,
                      interpolation=cv2.INTER_AREA if smaller else cv2.INTER_LINEAR)


def _reduced(
    mask: np.ndarray, probability: np.ndarray, factor: int
) -> tuple[np.ndarray, np.ndarray, tuple[float, float]]:
    """The mask (a block at least half body) and the probability (block means), ``factor``
    times smaller a side (rounded up), and the size (x, y) of a reduced pixel."""
    size = (-(-mask.shape[1] // factor), -(-mask.shape[0] // factor))  # (w, h)
    share = cv2.resize(mask.view(np.uint8) * np.uint8(255), size, interpolation=cv2.INTER_AREA)
    return (share >= 128, _resized(probability, size),
            (mask.shape[1] / size[0], mask.shape[0] / size[1]))


def _enlarged(
    mask: np.ndarray, probability: np.ndarray, factor: int
) -> tuple[np.ndarray, np.ndarray, tuple[float, float]]:
    """The probability ``factor`` times larger a side (bilinear, float32), the mask as its
    0.5 level within the given mask's own bodies (so that bodies the mask left out stay
    out), and the size (x, y) of an enlarged pixel."""
    size = (mask.shape[1] * factor, mask.shape[0] * factor)  # (w, h)
    field = _resized(probability, size)
    near = cv2.resize(mask.view(np.uint8), size, interpolation=cv2.INTER_NEAREST)
    near = cv2.dilate(near, np.ones((2 * factor + 1,) * 2, np.uint8))
    return (field >= 0.5) & (near > 0), field, (1 / factor, 1 / factor)


def measure_mask(
    mask: np.ndarray,
    *,
    spacing_mm: tuple[float, float] | None = None,
    spacing_source: str = "none",
    view: str = "lateral",
    first_level: str | None = None,
    anterior: str | None = None,
    image: str = "",
    facing_hint: str | None = None,
    pixels: np.ndarray | None = None,
    probability: np.ndarray | None = None,
    cores: np.ndarray | None = None,
    landmarks: LandmarkModel | None = None,
    last_level: str | None = None,
) -> pd.DataFrame:
    """Label the bodies of a boolean mask and measure them (see ``MEASUREMENT_COLUMNS``).

    ``first_level`` names the first whole body, or ``last_level`` the last (counting up);
    ``spacing_mm`` is (row, column) in mm; ``anterior`` ("left"/"right") overrides the
    facing found from the spine's curvature; ``facing_hint`` is a facing from the header;
    ``pixels`` (the radiograph, bone bright) decide the facing where the curvature cannot;
    ``probability`` (the segmenter's, 0-1, the mask's size) parts bodies the mask merges
    (between the cores of ``cores``, a segmenter's core output, where given); with it, a
    mask over 2 x ``WORK_SIDE`` px a side is labelled and measured at a whole-number
    fraction of its size, on the probability, whose 0.5 crossings keep sub-pixel precision
    (a predicted mask holds no detail finer than the segmenter's input), one under
    ``SMALL_SIDE`` at a whole-number enlargement of its probability; the results are
    mapped back to the mask's pixels. Bodies dropped as specks, fragments or off-axis
    objects are listed in the ``qa`` of the nearest body and in ``df.attrs["dropped"]``.
    ``landmarks``: see ``measure_labelling``.
    """
    mask = np.asarray(mask, dtype=bool)
    if probability is not None and probability.shape != mask.shape:
        raise ValueError(f"probability {probability.shape} and mask {mask.shape} differ")
    field, scale, work_spacing = None, (1.0, 1.0), spacing_mm
    side = max(mask.shape)
    factor = side // WORK_SIDE if probability is not None else 1
    small = probability is not None and 0 < side < SMALL_SIDE
    enlarge = round(2 * SMALL_SIDE / side) if small else 1
    if factor >= 2 or enlarge >= 2:
        resample = _reduced if factor >= 2 else _enlarged
        mask, field, scale = resample(mask, probability, max(factor, enlarge))
        probability = field
        cores = None if cores is None else _resized(cores, field.shape[::-1])
        if spacing_mm is not None:
            work_spacing = (spacing_mm[0] * scale[1], spacing_mm[1] * scale[0])
    lab = label_bodies(
        mask, view=view, first_level=first_level, last_level=last_level, anterior=anterior,
        spacing_mm=work_spacing, facing_hint=facing_hint, pixels=pixels,
        probability=probability, pixel_scale=scale, cores=cores,
    )
    return measure_labelling(
        lab, spacing_mm=spacing_mm, spacing_source=spacing_source, view=view, image=image,
        field=field, pixel_scale=scale, probability=probability, pixels=pixels,
        landmarks=landmarks,
    )

"""Cutting a strip of merged bodies at the discs: a chain model along the strip's axis.

A lateral vertebral body is about as tall as it is deep, with a disc between bodies, so a
component much longer than deep holds several bodies. Along its centreline the discs show
in profiles averaged over the central part of the depth: as bands of the radiograph that
depart from the bodies' level (dark discs, or bright merged endplates) and as troughs of
the segmenter's probability. The cuts are chosen by dynamic programming over them: each
cut earns its evidence, and each piece pays for deviating from
the expected pitch, which follows the strip's local depth (bodies grow deeper and taller
down the spine together), with the pitch/depth ratio itself fitted to the strip.
"""

from __future__ import annotations

import numpy as np
from numpy.polynomial import Polynomial
from scipy import ndimage as ndi

from morpho.label.geometry import grouped_median, xy_of

PITCH_RATIO = 0.95  # expected centre spacing of lateral bodies over their depth (no prior)
RATIO_SD = 0.2  # spread (log) of that ratio around the prior
RATIOS = np.exp(np.linspace(np.log(0.75), np.log(1.35), 13))  # anatomical: T1 to L5 ~0.85-1.15
AXIS_AGREE = 30.0  # degrees: a strip's long axis lies within this of the spine's
STRIP = 1.5  # a component this many expected pitches long is treated as a strip
PIECE_SD = 0.22  # a piece's length may differ from its expected pitch by this share (1 SD)
PIECE_RANGE = (0.55, 2.6)  # pieces shorter or longer (x the expected pitch) are not made
END_MIN = 0.4  # a piece at either end may be this short (a body cut off), at its cost
CENTRAL = 0.3  # profiles over the pixels within this share of the depth of the centreline
TROUGH_WINDOW = 0.5  # probability trough depth: grey closing over this share of the pitch
DISC_REACH = 0.7  # the image's level at a point: running median over this share of the pitch
TEXTURE_REACH = 3.0  # the bodies' own texture: median departure over this many pitches
DISC_CONTRAST = 4.0  # a disc departs this many times the texture: unit evidence
NOISE_FLOOR = 0.005  # the texture is taken as at least this share of the image's range
MIN_TROUGH = 0.04  # evidence under this (a clear disc: 1) is none
CUT_GAIN = 4.0  # what a cut at a trough of unit evidence is worth against piece deviations


def along_spine(rows: np.ndarray, cols: np.ndarray, spine: np.ndarray) -> bool:
    """Whether the pixels' long (principal) axis lies within ``AXIS_AGREE`` of the spine's
    direction ``spine`` (x, y)."""
    d = xy_of(rows, cols)
    evals, evecs = np.linalg.eigh(np.cov((d - d.mean(axis=0)).T))
    u = evecs[:, np.argmax(evals)]
    return bool(abs(u @ np.asarray(spine, float)) >= np.cos(np.radians(AXIS_AGREE)))


def strip_frame(rows: np.ndarray, cols: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(along, across) coordinates of a strip's pixels about its curved centreline.

    The centreline is a polynomial (degree 1-3, one per two depths of length) through the
    medians across the strip in 1-px bins along its principal axis (its own: the centres
    of neighbours are pulled aside by posterior elements the mask holds); ``along`` is arc
    length (plus the offset's projection on the local tangent), ``across`` the signed
    distance from the centreline along the local normal."""
    xy = xy_of(rows, cols)
    d = xy - xy.mean(axis=0)
    evals, evecs = np.linalg.eigh(np.cov(d.T))
    u = evecs[:, np.argmax(evals)]
    u = u if u[1] >= 0 else -u  # cranial to caudal: down the image
    t, o = d @ u, d @ np.array([u[1], -u[0]])
    bins = np.floor(t - t.min()).astype(int)
    present = np.unique(bins)
    centre = grouped_median(bins, o)
    weights = np.bincount(bins)[present]
    degree = int(np.clip(present.size // (2 * max(np.median(weights), 1)), 1, 3))
    line = Polynomial.fit(present + t.min() + 0.5, centre, min(degree, present.size - 1), w=weights)
    slope = line.deriv()(t)
    cos = 1.0 / np.sqrt(1.0 + slope**2)
    grid = np.linspace(t.min(), t.max(), max(2, present.size))
    arc = np.concatenate([[0.0], np.cumsum(np.hypot(np.diff(grid),
                                                    np.diff(line(grid))))])
    offset = o - line(t)
    return np.interp(t, grid, arc) + offset * slope * cos, offset * cos


def profiles(
    along: np.ndarray, across: np.ndarray, values: list[np.ndarray]
) -> tuple[np.ndarray, list[np.ndarray]]:
    """Per 1-px bin along the strip: its depth (pixel count) and the mean of each of
    ``values`` over the central part (``CENTRAL`` of the depth each side of the centreline).
    Empty central bins take their neighbours' values."""
    bins = np.floor(along - along.min()).astype(int)
    depth = np.bincount(bins).astype(float)
    central = np.abs(across) <= CENTRAL * depth[bins]
    counts = np.bincount(bins[central], minlength=depth.size).astype(float)
    have = counts > 0
    out = []
    for v in values:
        sums = np.bincount(bins[central], weights=v[central], minlength=depth.size)
        mean = np.divide(sums, counts, out=np.zeros_like(sums), where=have)
        out.append(np.interp(np.arange(depth.size), np.flatnonzero(have), mean[have]))
    return depth, out


def trough_depth(profile: np.ndarray, window: int) -> np.ndarray:
    """How far each point lies below the profile's grey closing (troughs narrower than
    ``window`` are filled): the depth of a dark disc band."""
    return ndi.grey_closing(profile, size=max(3, window | 1), mode="nearest") - profile


def evidence(
    depth: np.ndarray, image: np.ndarray | None, prob: np.ndarray | None, pitch: float,
    span: float = 1.0,
) -> np.ndarray:
    """Disc evidence along the strip, the mean of: the image's departure from its running
    median over ``DISC_REACH`` pitches (either sign: a disc is a dark band where it is wide,
    a bright one where the endplates' cortices merge at a coarse scale or smeared slices),
    over ``DISC_CONTRAST`` x the bodies' own texture there (the median departure over
    ``TEXTURE_REACH`` pitches; at least ``NOISE_FLOOR`` of the image's range ``span``
    around the strip), so that lungs or shoulders over the spine do not hide the discs;
    and the probability's trough depth (0-1). Counted from ``MIN_TROUGH``; zero without
    either (``depth``: the strip's depth per bin, for the length)."""
    window = int(round(TROUGH_WINDOW * pitch))
    sigma = max(0.5, 0.04 * pitch)
    parts = []
    if image is not None:
        smooth = ndi.gaussian_filter1d(image, sigma)
        level = ndi.median_filter(smooth, size=int(DISC_REACH * pitch) | 1, mode="nearest")
        departure = ndi.gaussian_filter1d(np.abs(smooth - level), 2 * sigma)
        texture = ndi.median_filter(departure, size=int(TEXTURE_REACH * pitch) | 1,
                                    mode="nearest")
        floor = max(NOISE_FLOOR * span, 1e-6)  # a flat image: no evidence, not 0 / 0
        parts.append(departure / (DISC_CONTRAST * np.maximum(texture, floor)))
    if prob is not None:
        parts.append(trough_depth(ndi.gaussian_filter1d(prob, sigma), window))
    seen = np.mean(parts, axis=0) if parts else np.zeros_like(depth)
    return np.clip(seen - MIN_TROUGH, 0.0, None)


def candidates(score: np.ndarray, pitch: float) -> np.ndarray:
    """Local maxima of the evidence (the deepest within a quarter pitch), away from the ends."""
    reach = max(1, int(round(0.25 * pitch)))
    peak = (score > 0) & (score == ndi.maximum_filter1d(score, 2 * reach + 1, mode="nearest"))
    idx = np.flatnonzero(peak)
    keep = (idx >= END_MIN * pitch) & (idx <= score.size - 1 - END_MIN * pitch)
    idx = idx[keep]
    if idx.size:  # a flat-topped maximum: its first point only
        idx = idx[np.r_[True, np.diff(idx) > 1]]
    return idx


def best_cuts(score: np.ndarray, depth: np.ndarray, ratio_prior: float) -> np.ndarray:
    """The cut positions (bins) that maximise the cuts' evidence less the pieces' deviations
    from the expected pitch (ratio x mean local depth over the piece), over pitch/depth
    ratios around ``ratio_prior`` (empty when no cut pays)."""
    cum = np.concatenate([[0.0], np.cumsum(depth)])
    idx = candidates(score, ratio_prior * float(np.median(depth)))
    if idx.size == 0:
        return idx
    nodes = np.concatenate([[0], idx, [depth.size]])
    gains = np.concatenate([[0.0], CUT_GAIN * score[idx], [0.0]])
    a, b = np.meshgrid(nodes, nodes, indexing="ij")
    length = (b - a).astype(float)
    mean_depth = np.divide(cum[b] - cum[a], length, out=np.ones_like(length), where=length > 0)
    ends = (a == 0) | (b == depth.size)
    best_value, best = -np.inf, np.array([], int)
    for ratio in RATIOS:
        rel = length / (ratio * mean_depth)
        lo = np.where(ends, END_MIN, PIECE_RANGE[0])
        cost = 0.5 * (np.log(np.maximum(rel, 1e-6)) / PIECE_SD) ** 2
        allowed = (b > a) & (rel >= lo) & (rel <= PIECE_RANGE[1])
        value, path = _chain(gains, np.where(allowed, -cost, -np.inf))
        value -= 0.5 * (np.log(ratio / ratio_prior) / RATIO_SD) ** 2
        if value > best_value and len(path) > 2:
            best_value, best = value, nodes[path[1:-1]]
    return best


def _chain(gains: np.ndarray, step: np.ndarray) -> tuple[float, list[int]]:
    """Best path from the first node to the last: node gains plus edge values ``step[i, j]``
    (-inf where not allowed); returns its value and nodes."""
    n = gains.size
    value = np.full(n, -np.inf)
    back = np.zeros(n, int)
    value[0] = 0.0
    for j in range(1, n):
        total = value[:j] + step[:j, j]
        k = int(np.argmax(total))
        value[j], back[j] = total[k] + gains[j], k
    if not np.isfinite(value[-1]):
        return -np.inf, []
    path = [n - 1]
    while path[-1] != 0:
        path.append(int(back[path[-1]]))
    return float(value[-1]), path[::-1]


def cut_strip(
    rows: np.ndarray, cols: np.ndarray, image: np.ndarray | None, prob: np.ndarray | None,
    ratio_prior: float = PITCH_RATIO,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Cut a strip of merged bodies at its disc troughs; ``image`` and ``prob`` are the
    radiograph and the body probability on the mask's grid (either may be None). Returns
    the pieces' pixels, cranial to caudal (the strip itself when it is not a strip or no cut
    pays)."""
    along, across = strip_frame(rows, cols)
    counts, values = profiles(along, across, [a[rows, cols].astype(float)
                                              for a in (image, prob) if a is not None])
    depth = ndi.uniform_filter1d(counts, max(3, int(0.5 * np.median(counts))), mode="nearest")
    typical = float(np.median(depth))
    if depth.size < STRIP * ratio_prior * typical:
        return [(rows, cols)]
    it = iter(values)
    img = next(it) if image is not None else None
    pr = next(it) if prob is not None else None
    span = float(np.ptp(np.percentile(image, [1, 99]))) if image is not None else 1.0
    score = evidence(counts, img, pr, ratio_prior * typical, span)
    cuts = best_cuts(score, depth, ratio_prior)
    if cuts.size == 0:
        return [(rows, cols)]
    piece = np.searchsorted(cuts, np.floor(along - along.min()), side="right")
    return [(rows[piece == k], cols[piece == k]) for k in range(cuts.size + 1)]

"""Which side of a lateral film the anterior is on: from where the spine sits in the body's
silhouette, from the spine's curvature, or from the image beside the bodies (the posterior
elements behind them)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import cv2
import numpy as np

from morpho.label.geometry import SpineCurve

if TYPE_CHECKING:
    from morpho.label.labelling import Vertebra

BULGE = 0.1  # a curvature bulge this many body heights is clear
BAND = (0.15, 0.6)  # sampled this far (x the body depth) outside each wall
MIN_CONTRAST = 0.01  # median brightness difference (of the 1-99% range) that decides
AIR_SHARE = 0.3  # tissue is brighter than air by this share of (tissue level - air level)
AIR_RUN = 1.0  # a run of air this many body depths long ends the silhouette
BORDER = 0.05  # air reaches within this share of the image size of its edge
SILHOUETTE_SIDE = 256  # the silhouette is traced on the film reduced to this long side
# behind a body's centre lie its back half, the posterior elements and the back muscles, in
# front the chest or abdomen: on a whole body each side reaches 2 body depths or more
MIN_REACH = 1.5
# a whole chest reaches 1.8-3.1x as far in front of the bodies as behind them (DRRs of chest
# CTs); a field of view cut around the spine (spine CTs) gives under 1.6 either way
ANTERIOR_MARGIN = 1.7


def facing_from_curvature(
    curve: SpineCurve, ts: np.ndarray, names: list[str], height: float,
) -> tuple[str, str]:
    """Anterior side from the curvature: kyphosis bulges posteriorly, lordosis anteriorly.

    Tries the thoracic, then the lumbar bodies by level name; without names, the longer
    side of a clear turn of the curve as thoracic (``_kyphosis``); then all bodies taken as
    thoracic (a chest film). The first clear bulge decides. Returns (facing, "curvature"),
    or ("left", "default") without one.
    """
    regions = [
        (np.array([n.startswith("T") for n in names]), 1.0),
        (np.array([n.startswith("L") for n in names]), -1.0),
    ]
    if not any(names):
        regions.append((_kyphosis(curve, ts, height), 1.0))
    regions.append((np.ones(ts.size, bool), 1.0))
    for members, sign in regions:
        if members.sum() < 4:
            continue
        bulge = curve.sagitta(ts[members])
        if abs(bulge) >= BULGE * height:
            return ("left" if sign * bulge > 0 else "right"), "curvature"
    return "left", "default"


def _kyphosis(curve: SpineCurve, ts: np.ndarray, height: float) -> np.ndarray:
    """Without level names: where the curve turns (at least four bodies on each side, each
    side bulging clearly and the opposite way), the longer side is taken as the thoracic
    kyphosis and the other as lumbar (or cervical) lordosis. All False without a turn."""
    order = np.sort(ts)
    best, choice = 0.0, np.zeros(ts.size, bool)
    for k in range(4, ts.size - 3):
        upper, lower = curve.sagitta(order[:k]), curve.sagitta(order[k:])
        clear = min(abs(upper), abs(lower))
        if upper * lower < 0 and clear >= BULGE * height and clear > best:
            best = clear
            longer = order[:k] if k >= ts.size - k else order[k:]
            choice = np.isin(ts, longer)
    return choice


def facing_from_image(
    pixels: np.ndarray, bodies: list[Vertebra], mask_shape: tuple[int, int]
) -> str | None:
    """Anterior side from the brightness beside the bodies: the band behind the posterior
    walls holds the pedicles and is brighter than the soft tissue in front.

    For each body, the mean of ``pixels`` (bone bright; any size, mapped onto the mask's)
    over a band ``BAND`` body depths outside each wall, across the middle 60% of the
    body's height; the median difference over the bodies decides, or None when it is
    under ``MIN_CONTRAST``. It is mostly wrong on some CTs' DRRs; over the DRR sets of
    2026-12-06 (exact masks, full and 320 px) it decides 1207 of 1280 films and is right
    in 1102, where the curvature without level names decides 1095 and is right in 839
    (see ``labelling._facing``).
    """
    if not bodies:
        return None
    img = np.asarray(pixels)
    step = max(1, max(img.shape) // 512)  # the range from a sparse grid: cheap on big films
    lo, hi = np.percentile(img[::step, ::step], [1, 99])
    scale = 1.0 / max(float(hi - lo), 1e-6)
    zoom = np.array([img.shape[1] / mask_shape[1], img.shape[0] / mask_shape[0]])
    along, out = np.linspace(-0.3, 0.3, 9), np.linspace(*BAND, 10)
    differences = []
    for v in bodies:
        u = np.asarray(v.tangent, float)
        right = np.array([u[1], -u[0]])  # image right when the spine runs down the image
        xy = np.column_stack([v.cols, v.rows]).astype(float)
        centre = xy.mean(axis=0)
        q, s = (xy - centre) @ right, (xy - centre) @ u
        depth, height = np.ptp(q), np.ptp(s)
        means = []
        for side, wall in ((1.0, q.max()), (-1.0, q.min())):
            offsets = wall + side * depth * out
            pts = centre + (along * height)[:, None, None] * u + offsets[None, :, None] * right
            x = np.clip(np.round(pts[..., 0] * zoom[0]).astype(int), 0, img.shape[1] - 1)
            y = np.clip(np.round(pts[..., 1] * zoom[1]).astype(int), 0, img.shape[0] - 1)
            means.append((img[y, x].mean() - lo) * scale)
        differences.append(means[0] - means[1])  # right minus left
    contrast = float(np.median(differences))
    if abs(contrast) < MIN_CONTRAST:
        return None
    return "left" if contrast > 0 else "right"  # brighter right = posterior right


def facing_from_anatomy(
    pixels: np.ndarray, bodies: list[Vertebra], mask_shape: tuple[int, int]
) -> str | None:
    """Anterior side from where the spine sits in the body's silhouette: the spine lies at
    the back of the chest (and of the abdomen), so the silhouette reaches much further in
    front of the bodies than behind them.

    Along the normal to the spine through each body's centre (``pixels``: any size, bone
    bright, mapped onto the mask's grid), each side's reach is the distance to the first run
    of air ``AIR_RUN`` body depths long, or to the image edge where the body runs off the
    film (air: under ``AIR_SHARE`` of the way from the image's 1st percentile to the median
    around the spine, in regions that reach the image's edge: not the lungs). The median
    reach over the bodies decides when one side's is ``ANTERIOR_MARGIN`` times the other's,
    unless only the shorter one is cut by the image edge (then it is a lower bound; where
    both are, the body fills the film, which was framed around it), and both reach
    ``MIN_REACH`` body depths; else None. A film collimated to the spine, or a DRR of a CT
    whose field is cut around it, shows no whole silhouette and may mislead.
    """
    reach = silhouette_reach(pixels, bodies, mask_shape)
    if reach is None:
        return None
    (right, right_closed), (left, left_closed) = reach
    if min(right, left) < MIN_REACH:  # not a whole body: a field cut around the spine
        return None
    if right >= ANTERIOR_MARGIN * left and (left_closed or not right_closed):
        return "right"
    if left >= ANTERIOR_MARGIN * right and (right_closed or not left_closed):
        return "left"
    return None


def silhouette_reach(
    pixels: np.ndarray, bodies: list[Vertebra], mask_shape: tuple[int, int]
) -> tuple[tuple[float, bool], tuple[float, bool]] | None:
    """Right and left: the median reach of the silhouette from the bodies' centres (in
    body depths), and whether it ends in air inside
    the image for most bodies (else it is only a lower bound); see ``facing_from_anatomy``.
    None with fewer than two bodies."""
    if len(bodies) < 2:
        return None
    img = np.asarray(pixels, dtype=np.float32)
    f = min(1.0, SILHOUETTE_SIDE / max(img.shape))
    small = cv2.resize(img, (max(1, round(img.shape[1] * f)), max(1, round(img.shape[0] * f))),
                       interpolation=cv2.INTER_AREA)
    small = cv2.blur(small, (3, 3))
    zoom = np.array([small.shape[1] / mask_shape[1], small.shape[0] / mask_shape[0]])
    starts, directions, depths = [], [], []
    for v in bodies:
        u = np.asarray(v.tangent, float)
        right = np.array([u[1], -u[0]])  # image right when the spine runs down the image
        xy = np.column_stack([v.cols, v.rows]).astype(float)
        depths.append(float(np.ptp((xy - xy.mean(axis=0)) @ right) * np.mean(zoom)))
        starts.append((xy.mean(axis=0) + 0.5) * zoom - 0.5)
        directions.append(right)
    depth = float(np.median(depths))
    near = np.concatenate([_line(small, p, d)[: int(2 * depth) + 1] * 1.0
                           for p, d in zip(starts, directions, strict=True)])
    air = _air(small, float(np.percentile(small, 1)), float(np.median(near)))
    reach = np.array([[_reach(_line(air, p, side * d), depth) for side in (1.0, -1.0)]
                      for p, d in zip(starts, directions, strict=True)])
    middle, share = np.median(reach[..., 0], axis=0) / depth, reach[..., 1].mean(axis=0)
    return (float(middle[0]), bool(share[0] > 0.5)), (float(middle[1]), bool(share[1] > 0.5))


def _air(small: np.ndarray, dark: float, tissue: float) -> np.ndarray:
    """Air: pixels under ``AIR_SHARE`` of the way from ``dark`` to ``tissue`` in regions
    that reach within ``BORDER`` of the image edge (the air around the patient, even inside
    a bright collimation frame; not the lungs, which the body encloses)."""
    below = (small < dark + AIR_SHARE * (tissue - dark)).astype(np.uint8)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(below, connectivity=8)
    h, w = small.shape
    mx, my = BORDER * w, BORDER * h
    x, y, bw, bh = (stats[:, k] for k in range(4))
    outer = (x <= mx) | (y <= my) | (x + bw >= w - mx) | (y + bh >= h - my)
    outer[0] = False  # the background label: the tissue
    return outer[labels]


def _line(img: np.ndarray, start: np.ndarray, direction: np.ndarray) -> np.ndarray:
    """Samples of ``img`` every pixel from ``start`` along ``direction`` to the image edge."""
    h, w = img.shape
    limits = [((hi if d > 0 else 0) - p) / d
              for p, d, hi in zip(start, direction, (w - 1, h - 1), strict=True) if abs(d) > 1e-9]
    n = max(1, int(min(limits)) + 1) if limits else 1
    pts = start + np.arange(n)[:, None] * direction
    x = np.clip(np.round(pts[:, 0]).astype(int), 0, w - 1)
    y = np.clip(np.round(pts[:, 1]).astype(int), 0, h - 1)
    return img[y, x]


def _reach(air: np.ndarray, depth: float) -> tuple[float, bool]:
    """Distance along a line of ``air`` flags to the first run of ``AIR_RUN`` depths of
    air, or of air that runs on to the image edge, and True; or the line's length and False
    where the tissue reaches the image edge."""
    run = max(1, int(AIR_RUN * depth))
    if air.size >= run:
        found = np.flatnonzero(np.convolve(air.astype(float), np.ones(run), mode="valid") >= run)
        if found.size:
            return float(found[0]), True
    tissue = np.flatnonzero(~air)
    last = int(tissue[-1]) + 1 if tissue.size else 0
    if last < air.size:  # air from here to the image edge
        return float(last), True
    return float(air.size), False

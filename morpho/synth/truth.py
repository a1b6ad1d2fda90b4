"""Six-point morphometry truth: from 3-D body geometry, and as the ``truth.csv`` table."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import ndimage as ndi

from morpho.grade import crush_ratio, genant

POINTS = ("ant_sup", "mid_sup", "post_sup", "ant_inf", "mid_inf", "post_inf")
POINT_COLUMNS = [f"{p}_{a}" for p in POINTS for a in ("x", "y")]
TRUTH_COLUMNS = [
    "image", "level", "cx", "cy", "area_px", *POINT_COLUMNS,
    "ha_px", "hm_px", "hp_px", "ha_mm", "hm_mm", "hp_mm", "fracture_type", "fracture_grade",
    "complete",
]
COLUMN_FRACTIONS = (0.08, 0.5, 0.92)  # anterior, middle, posterior column, across the depth


@dataclass(frozen=True)
class BodyFrame:
    """A body's six points (6, 3) in mm and its local frame: centre, height axis ``up``,
    depth axis ``ap`` (anterior), and its depth range along ``ap`` from the centre."""

    points: np.ndarray
    centre: np.ndarray
    up: np.ndarray
    ap: np.ndarray
    depth_range: tuple[float, float]
    cut: bool = False  # the body reaches the edge of the volume (incomplete)


def six_points_3d(
    body_labels: np.ndarray, affine: np.ndarray, anterior: np.ndarray, superior: np.ndarray
) -> dict[int, BodyFrame]:
    """Per body label, the six points (6, 3) in mm in its mid-sagittal plane, with its frame.

    Each body's height axis follows the spine (from the centroids of its neighbours), its
    depth axis is perpendicular to it in the sagittal plane (``anterior``, ``superior``).
    The endplate points sit on the voxel surfaces (half a voxel beyond the centres).
    """
    spacing = np.sqrt((affine[:3, :3] ** 2).sum(axis=0))
    coords = {k: np.argwhere(body_labels[box] == k) + [s.start for s in box]
              for k, box in enumerate(ndi.find_objects(body_labels), 1) if box is not None}
    shape = np.array(body_labels.shape)
    world = {k: c @ affine[:3, :3].T + affine[:3, 3] for k, c in coords.items()}
    centroid = {k: w.mean(axis=0) for k, w in world.items()}
    lateral = np.cross(anterior, superior)
    out: dict[int, BodyFrame] = {}
    for k, pts in world.items():
        above, below = centroid.get(k - 1), centroid.get(k + 1)
        if above is not None and below is not None:
            up = above - below
        elif above is not None:
            up = above - centroid[k]
        elif below is not None:
            up = centroid[k] - below
        else:
            up = superior
        up = up - (up @ lateral) * lateral
        up /= np.linalg.norm(up)
        ap = np.cross(up, lateral)
        ap *= np.sign(ap @ anterior)
        rel = pts - centroid[k]
        x, u, w = rel @ lateral, rel @ ap, rel @ up
        half_w = 0.5 * float(np.abs(up) @ spacing)
        band = max(2.0, float(spacing @ np.abs(lateral)))
        slab = np.abs(x - np.median(x)) <= band
        u, w = u[slab], w[slab]
        lo, hi = np.percentile(u, [1, 99])  # robust to stray label voxels
        points = []
        column_w = max(1.0, 0.5 * float(np.abs(ap) @ spacing))
        for frac in COLUMN_FRACTIONS:
            uc = hi - frac * (hi - lo)
            near = np.abs(u - uc) <= column_w
            ws = w[near] if near.any() else w
            points.append((uc, ws.max() + half_w, ws.min() - half_w))
        x0 = np.median(x)
        base = centroid[k] + x0 * lateral
        sup = [base + uc * ap + ws * up for uc, ws, _ in points]
        inf = [base + uc * ap + wi * up for uc, _, wi in points]
        idx = coords[k]
        cut = bool((idx.min(axis=0) <= 1).any() or (idx.max(axis=0) >= shape - 2).any())
        out[int(k)] = BodyFrame(np.array(sup + inf), base, up, ap, (float(lo), float(hi)), cut)
    return out


def six_point_heights(points: np.ndarray) -> np.ndarray:
    """Ha, Hm, Hp from six points (6, d) in the order of ``POINTS``."""
    return np.linalg.norm(points[:3] - points[3:], axis=1)


def label_stats(labels: np.ndarray) -> dict[int, tuple[float, float, int]]:
    """Per non-zero label: mask centroid x, y and area in pixels (one pass)."""
    flat = labels.ravel().astype(np.int64)
    n = int(flat.max()) + 1 if flat.size else 1
    area = np.bincount(flat, minlength=n)
    ys, xs = np.indices(labels.shape)
    sx = np.bincount(flat, xs.ravel(), minlength=n)
    sy = np.bincount(flat, ys.ravel(), minlength=n)
    return {k: (sx[k] / area[k], sy[k] / area[k], int(area[k]))
            for k in range(1, n) if area[k] > 0}


def truth_row(
    image: str, level: str, points: np.ndarray, pixel_mm: float | None,
    stats: tuple[float, float, int], shape: tuple[int, int], fracture: dict | None = None,
    whole: bool = True,
) -> dict:
    """One ``truth.csv`` row from the six detector points (6, 2) in (x, y) pixel order
    ant_sup, mid_sup, post_sup, ant_inf, mid_inf, post_inf, and the body's mask
    ``stats`` (centroid x, y, area) in an image of ``shape``. ``complete`` is set when all
    six points fall inside the image and the body is ``whole`` (not cut by the volume)."""
    heights = six_point_heights(points)
    cx, cy, area = stats
    row = {"image": image, "level": level, "cx": float(cx), "cy": float(cy),
           "area_px": int(area)}
    row.update(dict(zip(POINT_COLUMNS, points.reshape(-1).tolist(), strict=True)))
    for name, h in zip(("ha", "hm", "hp"), heights, strict=True):
        row[f"{name}_px"] = float(h)
        row[f"{name}_mm"] = float(h * pixel_mm) if pixel_mm else np.nan
    row["fracture_type"] = (fracture or {}).get("type", "")
    row["fracture_grade"] = int((fracture or {}).get("grade", 0))
    rows, cols = shape
    inside = (points >= 0).all() and (points[:, 0] <= cols - 1).all() and (
        points[:, 1] <= rows - 1).all()
    row["complete"] = bool(inside and whole)
    return row


def truth_table(rows: list[dict]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=TRUTH_COLUMNS)


def first_whole_level(truth: pd.DataFrame) -> str:
    """The level of the first complete body: what a reader gives as ``--first-level`` (a
    body the film's edge cuts above it is the level before)."""
    whole = truth.loc[truth["complete"].astype(bool), "level"]
    return str(whole.iloc[0] if len(whole) else truth["level"].iloc[0])


def truth_grades(truth: pd.DataFrame) -> list[int]:
    """The Genant grade (``morpho.grade.genant``, the rules ``morpho measure`` applies) of
    each body of one film's truth table (cranial to caudal) from its true heights."""
    hp = truth["hp_px"].to_numpy(float)
    crush = crush_ratio(hp)
    return [genant(ha / p, hm / p, c)[0]
            for ha, hm, p, c in zip(truth["ha_px"], truth["hm_px"], hp, crush, strict=True)]


def match_to_truth(measured: pd.DataFrame, truth: pd.DataFrame) -> pd.DataFrame:
    """The measured bodies of one film named after the true body whose centre lies within
    half its middle height of theirs (a predicted mask may miss or add bodies, so its
    counted levels can be shifted); bodies near none, and levels claimed twice, left out."""
    centres = truth[["cx", "cy"]].to_numpy()
    levels = []
    for row in measured.itertuples():
        d = np.hypot(*(centres - [row.cx, row.cy]).T)
        k = int(np.argmin(d))
        levels.append(truth["level"].iloc[k] if d[k] < 0.5 * truth["hm_px"].iloc[k] else None)
    measured = measured.assign(level=levels).dropna(subset=["level"])
    return measured.drop_duplicates("level", keep=False)

"""Heights, ratios and Genant grades of one film again, from its (corrected) six points."""

from __future__ import annotations

import numpy as np
import pandas as pd

from morpho.grade import genant
from morpho.measure import (
    NOT_GRADED,
    ROUNDING,
    film_grades,
    plausibility,
    point_depth,
    point_heights,
)

HEIGHTS = (("ha", "ant"), ("hm", "mid"), ("hp", "post"))
#: The ``qa`` note ``measure`` leaves on every body of a frontal film (never graded).
FRONTAL_NOTE = "Genant grading needs a lateral view"
READER_UNGRADABLE = "not gradable (reader)"
#: Columns a re-measured film gets anew (the measure columns, then the extras a run keeps).
UPDATED = ("ha_px", "hm_px", "hp_px", "ha_mm", "hm_mm", "hp_mm", "wedge_ratio",
           "biconcave_ratio", "crush_ratio", "aspect", "neighbour_ratio", "plausible",
           "expected_wedge", "expected_biconcave", "wedge_z", "biconcave_z", "crush_z",
           "height_loss")  # fmt: skip


def film_spacing(film: pd.DataFrame) -> tuple[float, float] | None:
    """The spacing (row, column mm) the film was measured with, from its heights in px and
    mm (the run keeps no header): one number where all agree, else a least-squares fit of
    mm² = (dx sx)² + (dy sy)²; None without mm."""
    dx, dy, mm = [], [], []
    for key, name in HEIGHTS:
        dx.append(film[f"{name}_sup_x"] - film[f"{name}_inf_x"])
        dy.append(film[f"{name}_sup_y"] - film[f"{name}_inf_y"])
        mm.append(film[f"{key}_mm"])
    dx, dy, mm = (pd.concat(v).to_numpy(float) for v in (dx, dy, mm))
    ok = np.isfinite(dx) & np.isfinite(dy) & np.isfinite(mm) & (np.hypot(dx, dy) > 0)
    if not ok.any():
        return None
    dx, dy, mm = dx[ok], dy[ok], mm[ok]
    ratio = mm / np.hypot(dx, dy)
    if np.ptp(ratio) <= 0.01 * np.median(ratio) or ok.sum() < 2:
        return float(np.median(ratio)), float(np.median(ratio))
    (col2, row2), *_ = np.linalg.lstsq(np.c_[dx**2, dy**2], mm**2, rcond=None)
    if row2 <= 0 or col2 <= 0:
        return float(np.median(ratio)), float(np.median(ratio))
    return float(np.sqrt(row2)), float(np.sqrt(col2))


def _heights(film: pd.DataFrame, spacing: tuple[float, float] | None) -> dict[str, np.ndarray]:
    """Ha/Hm/Hp (px, mm), the two ratios and the depth (px) from the six points."""
    col = point_heights(film, spacing)
    depth = point_depth(film)
    measured = film.get("depth_px", pd.Series(np.nan, film.index)).to_numpy(float)
    col["depth_px"] = np.where(np.isfinite(measured), measured, depth)  # the mask's, where kept
    return col


def _level_reasons(level: str, frontal: bool) -> list[str]:
    """What no reading changes: the level (C1, C2, S1) and a frontal film."""
    named = [NOT_GRADED[level]] if level in NOT_GRADED else []
    return named + ([FRONTAL_NOTE] if frontal else [])


def _reasons(film: pd.DataFrame, vouched: set[int], review: dict[int, str]) -> list[list[str]]:
    """Why each body is not graded now: the reader's mark; for a body whose points the reader
    moved or accepted only its level and the view; else the reasons it had as measured
    (those of its old level name replaced by its new one's)."""
    frontal = (film["view"].eq("ap").any() if "view" in film
               else film["qa"].fillna("").str.contains(FRONTAL_NOTE).any())  # older runs
    reasons = []
    for row in film.itertuples():
        now = _level_reasons(row.level, frontal)
        if review.get(row.index) == "not gradable":
            reasons.append([READER_UNGRADABLE])
        elif row.index in vouched or pd.notna(row.genant_grade):
            reasons.append(now)
        else:  # the qa ends with 'ungradable: reason; reason'
            old = str(row.qa).partition("ungradable: ")[2].split("; ")
            kept = [r for r in old if r and r not in NOT_GRADED.values() and r != FRONTAL_NOTE]
            reasons.append(kept + now if kept or now else ["as measured"])
    return reasons


def remeasure_film(
    film: pd.DataFrame, spacing: tuple[float, float] | None, touched: set[int],
    review: dict[int, str], moved: set[int],
) -> pd.DataFrame:
    """The film's rows (cranial to caudal) with heights, ratios, crush ratio, Genant grade and
    type from their six points, as ``measure`` computes them. ``touched``: body indexes the
    reader changed (points, level, facing, marks); ``review``: index -> 'accepted' / 'not
    gradable' / ''; ``moved``: bodies with a point moved. A body accepted or with a moved
    point is graded whatever its outline was (the reader vouches for its points). Adds
    ``corrected`` and ``review``."""
    col = _heights(film, spacing)
    col.update(plausibility(col["hp_px"], col["depth_px"]))
    vouched = {i for i, mark in review.items() if mark == "accepted"} | moved
    reasons = _reasons(film, vouched, review)
    col.update(film_grades(col, np.array([not r for r in reasons])))
    out = film.copy()
    graded = [genant(w, b, c, r, n) for w, b, c, r, n in zip(
        col["wedge_ratio"], col["biconcave_ratio"], col["crush_ratio"], reasons,
        col["normal_shape"], strict=True)]  # fmt: skip
    for name in UPDATED:
        if name in out:  # the extras where the run kept them
            out[name] = np.round(col[name], ROUNDING[name]) if name in ROUNDING else col[name]
    out["genant_grade"] = pd.array([g for g, _, _ in graded], dtype="Int64")
    out["genant_type"] = [t for _, t, _ in graded]
    out["corrected"] = [i in touched for i in film["index"]]
    out["review"] = [review.get(i, "") for i in film["index"]]
    out["qa"] = [_note(str(qa), t, note) if i in touched else qa
                 for i, qa, (_, t, note) in zip(film["index"], film["qa"], graded, strict=True)]
    return out


def _note(measured: str, kind: str, why: str) -> str:
    """The ``qa`` of a corrected body: marked as such, the measured notes without their old
    grading verdict, the new one."""
    notes = [n for n in measured.partition("ungradable: ")[0].split("; ") if n]
    verdict = [f"ungradable: {why}"] if kind == "ungradable" else []
    return "; ".join(["corrected by reader", *notes, *verdict])

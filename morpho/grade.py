"""Genant semi-quantitative grade and type from the height ratios of one body; the normal
shape a film's bodies are judged against; film-level calls."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

GRADE_LIMITS = (0.20, 0.25, 0.40)  # height loss: <20% grade 0, 20-25% 1, 25-40% 2, >40% 3
TYPES = ("wedge", "biconcave", "crush")


def grade_from_loss(loss: float) -> int:
    """Genant grade for a fractional height loss."""
    if loss < GRADE_LIMITS[0]:
        return 0
    if loss < GRADE_LIMITS[1]:
        return 1
    return 2 if loss <= GRADE_LIMITS[2] else 3


def height_loss(
    wedge_ratio: float, biconcave_ratio: float, crush_ratio: float,
    normal_shape: tuple[bool, bool] = (False, False),
) -> tuple[float, str]:
    """The largest fractional height loss and its type: Ha/Hp and Hm/Hp against 1, Hp
    against the neighbours' (``crush_ratio``, skipped when NaN). A ratio within its film's
    normal shape (``normal_shape``: wedge, biconcave; see ``measure``) counts as no loss.
    NaN without the two ratios."""
    if not (_finite(wedge_ratio) and _finite(biconcave_ratio)):
        return math.nan, "ungradable"
    losses = {"wedge": 0.0 if normal_shape[0] else 1 - wedge_ratio,
              "biconcave": 0.0 if normal_shape[1] else 1 - biconcave_ratio}
    if _finite(crush_ratio):
        losses["crush"] = 1 - crush_ratio
    kind = max(losses, key=losses.get)
    return losses[kind], kind


def genant(
    wedge_ratio: float,
    biconcave_ratio: float,
    crush_ratio: float,
    ungradable: list[str] | None = None,
    normal_shape: tuple[bool, bool] = (False, False),
) -> tuple[int | None, str, str]:
    """Return (grade, type, reason).

    Each height is compared with its expected value: the anterior (wedge) and middle
    (biconcave) heights with the posterior height of the same body, the posterior height
    (crush) with the mean posterior height of the neighbouring bodies. The largest loss
    sets the grade and the type (see ``height_loss``), McCloskey-Kanis style only where
    the ratio also departs from its film's normal shape (``normal_shape`` False): a
    mid-thoracic body wedged like its neighbours is not a fracture. Grade 0 has type
    ``normal``. A body with a reason in ``ungradable``, or without the anterior/middle/
    posterior ratios, is not graded (grade None, type ``ungradable``); a missing crush
    ratio (no neighbours) only limits the assessment to wedge and biconcave.
    """
    if ungradable:
        return None, "ungradable", "; ".join(ungradable)
    loss, kind = height_loss(wedge_ratio, biconcave_ratio, crush_ratio, normal_shape)
    if not _finite(loss):
        return None, "ungradable", "heights not measurable"
    reason = "" if _finite(crush_ratio) else "no neighbours: crush not assessed"
    grade = grade_from_loss(loss)
    return grade, (kind if grade else "normal"), reason


def _finite(x: float | None) -> bool:
    return x is not None and math.isfinite(x)


def crush_ratio(hp: np.ndarray) -> np.ndarray:
    """The crush ratio ``genant`` takes: each body's posterior height over the mean of its
    neighbours' (``neighbour_mean``), along the last axis (cranial to caudal; a 2-D array
    holds one film per row)."""
    return hp / neighbour_mean(hp)


def neighbour_mean(values: np.ndarray) -> np.ndarray:
    """Mean of the values before and after each one along the last axis (one neighbour at
    the ends; NaN values left out; NaN where neither is left)."""
    padded = np.pad(values, [(0, 0)] * (values.ndim - 1) + [(1, 1)], constant_values=np.nan)
    pair = np.stack([padded[..., :-2], padded[..., 2:]])
    count = np.isfinite(pair).sum(axis=0)
    return np.where(count > 0, np.nansum(pair, axis=0) / np.maximum(count, 1), np.nan)


def grade_kappa(a: np.ndarray, b: np.ndarray) -> float:
    """Cohen's kappa (unweighted) between two Genant gradings of the same bodies, over
    the grades 0-3 whether or not each occurs."""
    from statsmodels.stats.inter_rater import cohens_kappa

    table = pd.crosstab(pd.Categorical(a, range(4)), pd.Categorical(b, range(4)), dropna=False)
    with np.errstate(invalid="ignore"):  # its standard error, unused, at perfect agreement
        return float(cohens_kappa(table.to_numpy()).kappa)


# The normal shape of a film's bodies: per body the median Ha/Hp (Hm/Hp) of up to
# REFERENCE_NEIGHBOURS gradable bodies on each side whose own ratio lies in NORMAL_RATIO,
# clipped into it (1 where none qualifies); its z-score is the body's ratio over that,
# against the film's robust scatter (at least MIN_SD). A ratio with z above -DEVIANT_Z is
# the film's normal shape, not a loss. NORMAL_RATIO's floor is a synthetic-truth prior,
# stated as such: about the 5th-10th percentile of Ha/Hp and Hm/Hp over the 3,873 intact
# whole bodies of the CT-derived DRR set (data/synth, four CTs; T5-T10 0.78, T11-L1 0.80);
# neighbours below it count as deformed, not as normal. No literature table is used.
NORMAL_RATIO = (0.80, 1.0)
REFERENCE_NEIGHBOURS = 2
MIN_SD = 0.04  # floor under a film's ratio scatter (few bodies; exact masks scatter less)
DEVIANT_Z = 2.0  # a ratio this many SD below its film's normal shape can be a fracture
MAD_TO_SD = 1.4826  # median absolute deviation of a normal sample to its SD


def expected_ratio(ratio: np.ndarray, usable: np.ndarray) -> np.ndarray:
    """Per body (cranial to caudal) the ratio a normal body there has on this film: the
    median over up to ``REFERENCE_NEIGHBOURS`` ``usable`` neighbours each side within
    ``NORMAL_RATIO``, clipped into it; 1 where none qualifies."""
    ok = usable & (ratio >= NORMAL_RATIO[0]) & (ratio <= NORMAL_RATIO[1])
    near = neighbour_median(ratio, ok, REFERENCE_NEIGHBOURS)
    return np.where(np.isnan(near), 1.0, np.clip(near, *NORMAL_RATIO))


def neighbour_median(values: np.ndarray, use: np.ndarray, k: int) -> np.ndarray:
    """Per item of a sequence (cranial to caudal) the median of up to ``k`` items on each
    side (itself left out) where ``use``; NaN where none is."""
    out = np.full(values.size, np.nan)
    for i in range(values.size):
        near = np.r_[np.arange(max(i - k, 0), i), np.arange(i + 1, min(i + 1 + k, values.size))]
        near = near[use[near]]
        if near.size:
            out[i] = np.median(values[near])
    return out


def film_z(ratio: np.ndarray, expected: np.ndarray, usable: np.ndarray) -> np.ndarray:
    """(ratio / expected - 1) over the film's robust scatter of that quantity (MAD as SD,
    at least ``MIN_SD``) among its usable bodies of normal shape (``NORMAL_RATIO``; for
    a crush ratio, expected 1: within 1 -+ (1 - the floor)), so that fractures do not
    widen it."""
    rel = ratio / expected
    normal = usable & np.isfinite(rel) & (rel >= NORMAL_RATIO[0]) & (rel <= 2 - NORMAL_RATIO[0])
    sel = rel[normal]
    sd = MAD_TO_SD * np.median(np.abs(sel - np.median(sel))) if sel.size >= 3 else 0.0
    return (rel - 1.0) / max(sd, MIN_SD)


def subject_calls(table: pd.DataFrame) -> pd.DataFrame:
    """Film-level result per ``image`` of a measurements table: ``bodies``, ``gradable``,
    ``worst_grade`` (NaN when none was gradable), ``any_grade2`` (a moderate or severe
    deformity), ``sdi`` (sum of the grades), ``driver`` (the level, else ``#index``, of the
    worst body; the largest height loss among equals), ``driver_type`` and
    ``driver_loss``."""
    rows = []
    for image, df in table.groupby("image", sort=False):
        graded = df[df["genant_grade"].notna()]
        row = {"image": image, "bodies": len(df), "gradable": len(graded),
               "worst_grade": np.nan, "any_grade2": False, "sdi": 0,
               "driver": "", "driver_type": "", "driver_loss": np.nan}
        if len(graded):
            top = graded.assign(_loss=graded.get("height_loss", 0.0)).sort_values(
                ["genant_grade", "_loss"], ascending=False).iloc[0]
            row.update(worst_grade=int(top["genant_grade"]),
                       any_grade2=bool(top["genant_grade"] >= 2),
                       sdi=int(graded["genant_grade"].sum()),
                       driver=top["level"] or f"#{top['index']}",
                       driver_type=top["genant_type"], driver_loss=top["_loss"])
        rows.append(row)
    return pd.DataFrame(rows)

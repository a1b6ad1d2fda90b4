"""Level names (C1..S1), typical body sizes by level, and the suggested labelling."""

from __future__ import annotations

import numpy as np

from morpho.domain import LEVELS

# Approximate adult vertebral body size (mm) by level, C3..S1, rounded from published
# morphometry (Panjabi et al. 1991, 1992): height and transverse width (AP view). Widths
# T1..L5 follow instead the median relative profile of the annotated quadrilaterals of the
# AASCE training part (358 films; `python analysis/measure_aasce.py --width-profile`),
# scaled to the published mean: T1 is wider than T2-T5, which the published steady growth
# left out. Used only by the suggested labelling of AP films.
TYPICAL_MM = {
    "height": [14, 14, 14, 14, 15, 16, 17, 17.5, 18, 18.5, 19, 19.5, 20, 21, 22, 23, 24.5,
               25.5, 26.5, 27, 27, 26.5, 25],
    "width": [16, 17, 18, 20, 22, 32, 29.5, 28.5, 28, 28.5, 29, 30, 31.5, 32.5, 34, 36, 37.5,
              39.5, 41, 42.5, 44.5, 47.5, 50],
}


def level_names(
    first_level: str | None, count: int, steps: list[int], first_whole: int = 0,
    last_level: str | None = None, last_whole: int | None = None,
) -> list[str]:
    """Names for ``count`` bodies; ``steps[i]`` levels before body i. ``first_level`` names
    body ``first_whole``, the first whole one: a body the film's edge cuts above it (what
    a reader does not count) is the level before, or unnamed before T1. Or ``last_level``
    names body ``last_whole`` (default: the last), counting up: a body cut below it is the
    level after."""
    known = first_level or last_level
    if not known or not count:
        return [""] * count
    positions = np.cumsum([0, *steps[1:count]])
    anchor = min(first_whole, count - 1) if first_level else (
        count - 1 if last_whole is None else min(last_whole, count - 1))
    positions = positions - positions[anchor]
    start = LEVELS.index(known.upper())
    return [LEVELS[start + p] if 0 <= start + p < len(LEVELS) else "" for p in positions]


def check_level(name: str | None) -> str | None:
    """Normalise a level name (``t4`` -> ``T4``); raise ValueError for unknown names."""
    if name is None or name == "":
        return None
    if name.upper() not in LEVELS:
        raise ValueError(f"unknown level {name!r}; expected one of {LEVELS[0]}..{LEVELS[-1]}")
    return name.upper()


# Residual scatter of a body's size about the typical one (log units) in the alignment's
# likelihood: the mean confidence then matches the share of AASCE training films named
# right (0.71 against 0.72; 0.91 with 0.08, over-confident).
SIZE_SD = 0.15


def suggest_levels(
    sizes_mm: dict[str, np.ndarray], steps: list[int], absolute: bool, sd: float = SIZE_SD,
    table: dict[str, list[float]] = TYPICAL_MM,
) -> tuple[list[str], float]:
    """Heuristic labelling of AP films: align the bodies' sizes with typical sizes per level.

    ``sizes_mm`` holds measured "height" and "width" per body. (Lateral films get none: there
    the bodies' heights and depths name every body right on 1% of the lateral DRRs of the
    training CTs, sizes 1.2-1.4x the table and varying by CT, so no alignment can be
    trusted.) ``table``: typical sizes by level, C3..S1, per key of ``sizes_mm``.
    With a known spacing sizes are compared in mm (one free scale, +-15%); without it only
    their relative growth down the spine counts. Returns the names and the posterior
    probability of the best alignment (Gaussian residuals of ``sd`` per size in log units,
    flat prior).
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
            res = np.log(values) - np.log(np.array(table[key])[start + pos])
            shift = np.clip(res.mean(), -0.15, 0.15) if absolute else res.mean()
            score -= 0.5 * np.sum(((res - shift) / sd) ** 2)
        scores.append(score)
        starts.append(start)
    if not scores:
        return [""] * first.size, 0.0
    scores = np.array(scores)
    prob = np.exp(scores - scores.max())
    prob /= prob.sum()
    best = starts[int(np.argmax(prob))]
    return [names[best + int(p)] for p in pos], float(prob.max())


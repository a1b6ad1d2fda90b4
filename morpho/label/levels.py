"""Level names (C1..S1), typical body sizes by level, and the suggested labelling."""

from __future__ import annotations

import numpy as np

from morpho.domain import LEVELS

# Approximate adult vertebral body size (mm) by level, C3..S1, rounded from published
# morphometry (Panjabi et al. 1991, 1992): height, sagittal depth (lateral view) and
# transverse width (AP view). Widths T1..L5 follow instead the median relative profile of
# the annotated quadrilaterals of the AASCE training part (358 films; `python
# analysis/measure_aasce.py --width-profile`), scaled to the published mean: T1 is wider
# than T2-T5, which the published steady growth left out. Used only by the
# suggested-labelling heuristic.
TYPICAL_MM = {
    "height": [14, 14, 14, 14, 15, 16, 17, 17.5, 18, 18.5, 19, 19.5, 20, 21, 22, 23, 24.5,
               25.5, 26.5, 27, 27, 26.5, 25],
    "depth": [15, 15.5, 15.5, 16, 16, 16, 17, 18, 19.5, 21, 22.5, 24, 25.5, 27, 28.5, 29.5,
              31, 33, 34, 35, 35.5, 35.5, 35],
    "width": [16, 17, 18, 20, 22, 32, 29.5, 28.5, 28, 28.5, 29, 30, 31.5, 32.5, 34, 36, 37.5,
              39.5, 41, 42.5, 44.5, 47.5, 50],
}


def level_names(
    first_level: str | None, count: int, steps: list[int], first_whole: int = 0
) -> list[str]:
    """Names for ``count`` bodies; ``steps[i]`` levels before body i. ``first_level`` names
    body ``first_whole``, the first whole one: a body the film's edge cuts above it (what
    a reader does not count) is the level before, or unnamed before T1."""
    if not first_level:
        return [""] * count
    positions = np.cumsum([0, *steps[1:count]]) if count else np.array([], int)
    if count:
        positions = positions - positions[min(first_whole, count - 1)]
    start = LEVELS.index(first_level.upper())
    return [LEVELS[start + p] if 0 <= start + p < len(LEVELS) else "" for p in positions]


def check_level(name: str | None) -> str | None:
    """Normalise a level name (``t4`` -> ``T4``); raise ValueError for unknown names."""
    if name is None or name == "":
        return None
    if name.upper() not in LEVELS:
        raise ValueError(f"unknown level {name!r}; expected one of {LEVELS[0]}..{LEVELS[-1]}")
    return name.upper()


# Residual scatter of a body's size about the typical one (log units) in the alignment's
# likelihood. 0.15 for AP widths: the mean confidence then matches the share of AASCE
# training films named right (0.71 against 0.72; 0.91 with 0.08, over-confident).
SIZE_SD = {"lateral": 0.08, "ap": 0.15}


def suggest_levels(
    sizes_mm: dict[str, np.ndarray], steps: list[int], absolute: bool,
    sd: float = SIZE_SD["lateral"],
) -> tuple[list[str], float]:
    """Heuristic labelling: align the bodies' sizes with typical sizes per level.

    ``sizes_mm`` holds measured "height" and "depth" (lateral) or "width" (AP) per body.
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
            res = np.log(values) - np.log(np.array(TYPICAL_MM[key])[start + pos])
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


"""Genant semi-quantitative grade and type from the height ratios of one body."""

from __future__ import annotations

import math

GRADE_LIMITS = (0.20, 0.25, 0.40)  # height loss: <20% grade 0, 20-25% 1, 25-40% 2, >40% 3
TYPES = ("wedge", "biconcave", "crush")


def grade_from_loss(loss: float) -> int:
    """Genant grade for a fractional height loss."""
    if loss < GRADE_LIMITS[0]:
        return 0
    if loss < GRADE_LIMITS[1]:
        return 1
    return 2 if loss <= GRADE_LIMITS[2] else 3


def genant(
    wedge_ratio: float,
    biconcave_ratio: float,
    crush_ratio: float,
    ungradable: list[str] | None = None,
) -> tuple[int | None, str, str]:
    """Return (grade, type, reason).

    Each height is compared with its expected value: the anterior (wedge) and middle
    (biconcave) heights with the posterior height of the same body, the posterior height
    (crush) with the mean posterior height of the neighbouring bodies. The largest loss
    sets the grade and the type. Grade 0 has type ``normal``. A body with a reason in
    ``ungradable``, or without the anterior/middle/posterior ratios, is not graded
    (grade None, type ``ungradable``); a missing crush ratio (no neighbours) only limits
    the assessment to wedge and biconcave.
    """
    if ungradable:
        return None, "ungradable", "; ".join(ungradable)
    if not (_finite(wedge_ratio) and _finite(biconcave_ratio)):
        return None, "ungradable", "heights not measurable"
    losses = {"wedge": 1 - wedge_ratio, "biconcave": 1 - biconcave_ratio}
    reason = ""
    if _finite(crush_ratio):
        losses["crush"] = 1 - crush_ratio
    else:
        reason = "no neighbours: crush not assessed"
    kind = max(losses, key=losses.get)
    grade = grade_from_loss(losses[kind])
    return grade, (kind if grade else "normal"), reason


def _finite(x: float | None) -> bool:
    return x is not None and math.isfinite(x)

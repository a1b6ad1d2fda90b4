"""Genant grade boundaries and types."""

from __future__ import annotations

import math

import pytest

from morpho.grade import genant, grade_from_loss


@pytest.mark.parametrize(
    ("loss", "grade"), [(0.0, 0), (0.19, 0), (0.2, 1), (0.24, 1), (0.25, 2), (0.4, 2), (0.41, 3)]
)
def test_grade_boundaries(loss, grade):
    assert grade_from_loss(loss) == grade


def test_type_is_the_most_reduced_height():
    assert genant(0.7, 0.95, 1.0) == (2, "wedge", "")
    assert genant(0.98, 0.7, 1.0) == (2, "biconcave", "")
    assert genant(1.0, 1.0, 0.55) == (3, "crush", "")
    assert genant(0.9, 0.9, 0.9) == (0, "normal", "")


def test_ungradable_is_never_guessed():
    assert genant(0.5, 0.5, 0.5, ["irregular outline"]) == (None, "ungradable", "irregular outline")
    grade, kind, _ = genant(math.nan, 1.0, 1.0)
    assert grade is None and kind == "ungradable"
    grade, kind, reason = genant(0.95, 0.95, math.nan)
    assert (grade, kind) == (0, "normal") and "crush" in reason

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


def test_crush_ratio_is_hp_over_the_neighbours_mean_per_film_row():
    import numpy as np

    from morpho.grade import crush_ratio, neighbour_mean

    hp = np.array([20.0, 22.0, 11.0, 24.0])
    assert np.allclose(crush_ratio(hp), [20 / 22, 22 / 15.5, 11 / 23, 24 / 11])
    assert np.allclose(crush_ratio(np.stack([hp, 2 * hp])), [crush_ratio(hp)] * 2)
    assert np.isnan(crush_ratio(np.array([20.0]))).all()  # a lone body: no neighbours
    got = neighbour_mean(np.array([1.0, np.nan, 3.0, 5.0]))  # NaN values left out
    np.testing.assert_allclose(got, [np.nan, 2.0, 5.0, 3.0])


def test_grade_kappa_counts_every_grade():
    import numpy as np

    from morpho.grade import grade_kappa

    a = np.array([0, 0, 1, 2, 3, 0])
    assert grade_kappa(a, a) == pytest.approx(1.0)
    assert grade_kappa(a, np.array([0, 0, 1, 2, 2, 1])) < 1.0

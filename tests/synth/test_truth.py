"""The truth-table helpers the analysis scripts share: grades from true heights, matching."""

import numpy as np
import pandas as pd

from morpho.grade import genant
from morpho.synth.realism import jpeg_export
from morpho.synth.truth import match_to_truth, truth_grades


def truth_table() -> pd.DataFrame:
    return pd.DataFrame({"level": ["T10", "T11", "T12", "L1"], "cx": [50.0] * 4,
                         "cy": [20.0, 50.0, 80.0, 110.0], "ha_px": [24.0, 24.0, 14.0, 25.0],
                         "hm_px": [23.0, 23.0, 22.0, 24.0], "hp_px": [25.0, 25.0, 24.0, 26.0]})


def test_truth_grades_apply_genant_to_the_true_heights():
    grades = truth_grades(truth_table())
    assert grades == [0, 0, 3, 0]  # T12's Ha/Hp 0.58: a severe wedge
    assert grades[2] == genant(14 / 24, 22 / 24, 24 / 25.5)[0]
    assert truth_grades(truth_table().iloc[:1]) == [0]  # a lone body: no crush ratio


def test_measured_bodies_take_the_nearest_true_level():
    measured = pd.DataFrame({"level": ["T1", "T2", "T3", "T4"], "cx": [51.0, 49.0, 50.0, 200.0],
                             "cy": [49.0, 82.0, 84.0, 80.0]})
    matched = match_to_truth(measured, truth_table())
    # T11 once; T12 claimed twice (left out); one far from every body (left out)
    assert list(matched["level"]) == ["T11"] and list(matched.index) == [0]


def test_a_jpeg_export_is_small_and_keeps_its_labels_aligned():
    rng = np.random.default_rng(0)
    pixels = rng.random((640, 480)).astype(np.float32)
    labels = np.zeros((640, 480), np.uint8)
    labels[100:300, 200:280] = 3
    small, small_labels = jpeg_export(pixels, labels, short_side=240)
    assert small.shape == small_labels.shape == (320, 240) and small.dtype == np.uint8
    assert set(np.unique(small_labels)) == {0, 3}
    assert small_labels[50:150, 100:140].all()

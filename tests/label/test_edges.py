"""Bodies cut by the film's edge: not the first level a reader names, and not graded."""

from __future__ import annotations

import numpy as np
import pandas as pd

from morpho.label import label_bodies
from morpho.measure import measure_mask

HEIGHT, DEPTH, DISC = 40, 50, 12


def column(top: int, n: int, rows: int = 400) -> np.ndarray:
    """``n`` separate lateral bodies from row ``top`` (negative: the first one is cut)."""
    mask = np.zeros((rows, 200), bool)
    for i in range(n):
        start = top + i * (HEIGHT + DISC)
        mask[max(start, 0):max(start + HEIGHT, 0), 70:70 + DEPTH] = True
    return mask


def test_a_body_cut_by_the_top_edge_is_the_level_before_the_first_whole_one():
    names = [v.level for v in label_bodies(column(-25, 6), first_level="T4").vertebrae]
    assert names == ["T3", "T4", "T5", "T6", "T7", "T8"]


def test_whole_bodies_from_the_top_keep_the_given_first_level():
    names = [v.level for v in label_bodies(column(20, 6), first_level="T4").vertebrae]
    assert names == ["T4", "T5", "T6", "T7", "T8", "T9"]


def test_a_cut_body_above_the_first_level_named_is_left_unnamed():
    names = [v.level for v in label_bodies(column(-25, 4), first_level="C1").vertebrae]
    assert names == ["", "C1", "C2", "C3"]


def test_a_segmented_body_ending_just_short_of_the_edge_counts_as_cut_and_is_not_graded():
    # the last body ends 3 px (under a tenth of its height) above the film's bottom edge
    mask = column(20, 6, rows=20 + 5 * (HEIGHT + DISC) + HEIGHT + 3)
    probability = np.where(mask, 0.95, 0.02).astype(np.float32)  # a segmenter's output
    table = measure_mask(mask, first_level="T4", probability=probability)
    last = table.iloc[-1]
    assert "touches the image border" in last["qa"]
    assert pd.isna(last["genant_grade"])
    assert table["genant_grade"].iloc[:-1].notna().all()
    # a mask given without a probability is exact: only a body on the edge is cut
    exact = measure_mask(mask, first_level="T4")
    assert exact["genant_grade"].notna().all()


def test_the_last_level_names_the_bodies_counting_up_and_a_body_cut_below_is_the_level_after():
    whole = [v.level for v in label_bodies(column(20, 6), last_level="L1").vertebrae]
    assert whole == ["T8", "T9", "T10", "T11", "T12", "L1"]
    cut = column(20, 6, rows=20 + 5 * (HEIGHT + DISC) + HEIGHT // 2)  # the last one cut
    assert [v.level for v in label_bodies(cut, last_level="L1").vertebrae] == [
        "T9", "T10", "T11", "T12", "L1", "L2"]


def test_the_first_and_the_last_level_together_are_refused():
    import pytest

    with pytest.raises(ValueError, match="first or the last level"):
        label_bodies(column(20, 6), first_level="T4", last_level="L1")


def test_dropping_a_body_names_the_rest_again_from_the_known_level():
    """``Labelling.without``: the levels are counted again from the given end's whole body,
    a body the edge cuts staying the level after it."""
    from morpho.label.labelling import BORDER_NOTE, Labelling, Vertebra

    def body(y: int, *qa: str) -> Vertebra:
        rows, cols = np.mgrid[y - 20:y + 20, 70:120]
        return Vertebra(rows.ravel(), cols.ravel(), (95.0, float(y)), qa=list(qa))

    bodies = [body(30), body(60), body(90), body(150), body(210), body(270, BORDER_NOTE)]
    lab = Labelling(bodies, [], "left", "curvature", float("nan"), 40.0, (300, 200),
                    named_from="last", known_level="L1")
    lab.without(1)  # a half-body's second reading
    assert [v.level for v in lab.vertebrae] == ["T10", "T11", "T12", "L1", "L2"]
    assert [v.index for v in lab.vertebrae] == [1, 2, 3, 4, 5]

"""Per-body detection in `evaluate`: merged bodies miss as components, but count once the
labelling splits them (the bodies `morpho measure` measures)."""

import cv2
import numpy as np
import pandas as pd

from morpho.datasets.contract import DatasetItem
from morpho.segment.evaluate import by_level, evaluate_item


def test_merged_bodies_are_found_after_the_labellings_split(tmp_path):
    shape = (400, 200)
    labels = np.zeros(shape, np.uint16)
    for k in range(6):
        top = 20 + k * 60
        labels[top : top + 48, 60:140] = k + 1  # 6 bodies, 48 px tall, 12 px apart
    path = tmp_path / "labels.png"
    cv2.imwrite(str(path), labels)
    pred = labels > 0
    pred[128:140, 70:130] = True  # bodies 2 and 3 joined across their gap, with notches
    item = DatasetItem(id="a", image=tmp_path / "a.png", split="test", labels=path)
    row, bodies, _ = evaluate_item(item, np.zeros(shape, np.float32), pred, None)
    assert row["pred_components"] == 5 and row["matched"] == 4
    assert row["labelled_bodies"] == 6 and row["matched_labelled"] == 6
    assert [b["detected"] for b in bodies] == [True, False, False, True, True, True]
    assert all(b["detected_labelled"] for b in bodies)
    assert row["dice"] < 1.0
    levels = by_level(pd.DataFrame(bodies))
    assert list(levels["level"]) == [str(k) for k in range(1, 7)]
    assert list(levels["recall"]) == [1.0, 0.0, 0.0, 1.0, 1.0, 1.0]
    assert (levels["recall_labelled"] == 1.0).all()


def test_a_body_beyond_the_labelled_levels_is_no_false_positive(tmp_path):
    shape = (460, 200)
    labels = np.zeros(shape, np.uint16)
    for k in range(4):
        top = 80 + k * 60
        labels[top : top + 48, 60:140] = k + 1  # 4 labelled bodies (a CT slab's T10-L1)
    path = tmp_path / "labels.png"
    cv2.imwrite(str(path), labels)
    pred = labels > 0
    pred[20:68, 60:140] = True  # the unlabelled body above the slab's first level: real bone
    pred[330:378, 60:140] = True  # and the one below
    pred[200:248, 20:50] = True  # a false body beside the spine, within the labelled span
    item = DatasetItem(id="a", image=tmp_path / "a.png", split="test", labels=path)
    row, _, _ = evaluate_item(item, np.zeros(shape, np.float32), pred, None)
    assert row["matched_labelled"] == 4 and row["labelled_bodies"] == 7
    assert row["labelled_in_span"] == 5  # the 4 matched and the false one; not the two beyond

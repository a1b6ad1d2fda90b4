"""The stored label map: bodies parted at their outlines, unmeasured components left out."""

import numpy as np
import pandas as pd

from morpho.chain import POINTS, label_map


def _row(index: int, x0: float, y0: float, x1: float, y1: float) -> dict:
    xs = {"ant": x0, "mid": (x0 + x1) / 2, "post": x1}
    row = {"index": index, "cx": (x0 + x1) / 2, "cy": (y0 + y1) / 2}
    for p in POINTS:
        name, edge = p.split("_")
        row[f"{p}_x"], row[f"{p}_y"] = xs[name], y0 if edge == "sup" else y1
    return row


def test_touching_bodies_are_parted_and_a_speck_is_left_out():
    mask = np.zeros((300, 200), bool)
    mask[100:160, 60:120] = True  # two bodies touching at row 130
    mask[10:14, 10:14] = True  # a speck no body was measured on
    table = pd.DataFrame([_row(1, 62, 102, 118, 127), _row(2, 62, 133, 118, 158)])
    out = label_map(mask, table)
    assert out.shape == mask.shape and out.dtype == np.uint8
    assert set(np.unique(out)) == {0, 1, 2}
    assert (out[100:129, 60:120] == 1).all() and (out[132:160, 60:120] == 2).all()
    assert not out[~mask].any() and not out[10:14, 10:14].any()


def test_a_body_without_points_is_kept_by_its_centre_and_an_empty_table_gives_zeros():
    mask = np.zeros((120, 90), bool)
    mask[40:80, 30:70] = True
    row = _row(3, 32, 42, 68, 78)
    row.update({f"{p}_x": np.nan for p in POINTS})
    out = label_map(mask, pd.DataFrame([row]))
    assert (out[mask] == 3).all() and not out[~mask].any()
    assert not label_map(mask, pd.DataFrame(columns=list(row))).any()
    assert not label_map(np.zeros((50, 50), bool), pd.DataFrame([row])).any()

"""The measure path on real AASCE corner annotations (skipped without ../shared/data)."""

from __future__ import annotations

import numpy as np
import pytest

from morpho.datasets.aasce import fill_quads, midline_heights, read_quads
from morpho.measure import measure_mask
from morpho.resources import shared_data_dir

ROOT = shared_data_dir() / "aasce-ap"
LEVELS = [f"T{i}" for i in range(1, 13)] + [f"L{i}" for i in range(1, 6)]

pytestmark = [
    pytest.mark.shared,
    pytest.mark.skipif(not ROOT.is_dir(), reason="needs ../shared/data/aasce-ap"),
]


@pytest.mark.parametrize("index", [0, 7, 21])
def test_filled_annotations_give_t1_to_l5_and_midline_heights(index):
    import cv2

    image = sorted((ROOT / "images").glob("*.jpg"))[index]
    shape = cv2.imread(str(image), cv2.IMREAD_GRAYSCALE).shape
    quads = read_quads(ROOT / "labels" / f"{image.name}.mat")
    df = measure_mask(fill_quads(quads, shape), view="ap", first_level="T1")
    assert list(df["level"]) == LEVELS
    assert np.median(np.abs(df["hm_px"] / midline_heights(quads) - 1)) < 0.03

"""The measure path on real AASCE corner annotations (skipped without ../shared/data)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.io
from skimage.draw import polygon

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
    quads = scipy.io.loadmat(ROOT / "labels" / f"{image.name}.mat")["p2"].reshape(17, 4, 2)
    quads = quads.astype(float)[:, [0, 1, 3, 2]]  # TL, TR, BR, BL
    mask = np.zeros(shape, bool)
    for q in quads:
        mask[polygon(q[:, 1], q[:, 0], shape)] = True
    df = measure_mask(mask, view="ap", first_level="T1")
    assert list(df["level"]) == LEVELS
    midline = np.linalg.norm(
        (quads[:, 0] + quads[:, 1]) / 2 - (quads[:, 2] + quads[:, 3]) / 2, axis=1
    )
    assert np.median(np.abs(df["hm_px"] / midline - 1)) < 0.03

"""The stored files keep their pixels whatever encoder settings make them cheaper."""

import cv2
import numpy as np

from morpho.stored import stage_film


def test_staged_overlay_and_labels_decode_to_the_same_pixels(tmp_path):
    rng = np.random.default_rng(0)
    labels = np.zeros((300, 200), np.uint8)
    labels[50:90, 60:140] = 1
    labels[100:140, 62:142] = 2
    film = rng.integers(0, 256, (150, 100), dtype=np.uint8)
    overlay = cv2.cvtColor(cv2.resize(film, (160, 240)), cv2.COLOR_GRAY2BGR)
    cv2.line(overlay, (10, 10), (150, 200), (0, 200, 255), 2, cv2.LINE_AA)
    stage_film(tmp_path / "stage", labels, film, overlay, None)
    assert np.array_equal(cv2.imread(str(tmp_path / "stage" / "labels.png"),
                                     cv2.IMREAD_UNCHANGED), labels)  # fmt: skip
    assert np.array_equal(cv2.imread(str(tmp_path / "stage" / "overlay.png")), overlay)
    copy = cv2.imread(str(tmp_path / "stage" / "film.jpg"), cv2.IMREAD_GRAYSCALE)
    assert copy.shape == film.shape

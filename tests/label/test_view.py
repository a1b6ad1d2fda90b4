"""column_symmetry: a film mirror-symmetric about its spine (frontal) against one that is
not (lateral), on a tilted column, so that the sides are compared across the column."""

from __future__ import annotations

import cv2
import numpy as np
import pandas as pd

from morpho.chain import FRONTAL_SYMMETRY, frontal_look
from morpho.label.view import column_symmetry

SIZE, WIDTH, TILT = 400, 30.0, 12.0  # film side, body width (px), column tilt (degrees)


def texture(rng: np.random.Generator) -> np.ndarray:
    smooth = cv2.GaussianBlur(rng.random((SIZE, SIZE // 2), np.float32), (0, 0), 3)
    return 0.5 + 0.2 * (smooth - smooth.mean()) / smooth.std()


def film(frontal: float, seed: int = 0) -> tuple[np.ndarray, pd.DataFrame]:
    """A column of bright bodies down the middle, tilted by TILT, and a different texture
    on each side of it, or (``frontal`` 1) one texture mirrored; in between, that share of
    the mirrored texture."""
    rng = np.random.default_rng(seed)
    right = texture(rng)
    left = (frontal * right + (1 - frontal) * texture(rng))[:, ::-1]
    upright = np.hstack([left, right])
    centres = [(SIZE / 2, y) for y in np.arange(40, SIZE - 40, 40.0)]
    for x, y in centres:
        upright[int(y - 15):int(y + 15), int(x - WIDTH / 2):int(x + WIDTH / 2)] = 0.8
    turn = cv2.getRotationMatrix2D((SIZE / 2, SIZE / 2), TILT, 1.0)
    pixels = cv2.warpAffine(upright, turn, (SIZE, SIZE), borderMode=cv2.BORDER_REFLECT)
    xy = np.hstack([centres, np.ones((len(centres), 1))]) @ turn.T
    table = pd.DataFrame({"cx": xy[:, 0], "cy": xy[:, 1], "depth_px": WIDTH,
                          "confidence": 0.95})
    return pixels, table


def test_a_mirrored_film_is_symmetric_and_a_lateral_one_is_not():
    for seed in range(3):
        assert column_symmetry(*film(frontal=1, seed=seed)) > 0.9
        assert abs(column_symmetry(*film(frontal=0, seed=seed))) < 0.3


def test_unsure_bodies_are_left_out_and_too_few_give_nan():
    pixels, table = film(frontal=1)
    unsure = table.assign(confidence=[0.95, 0.95] + [0.5] * (len(table) - 2))
    assert np.isnan(column_symmetry(pixels, unsure))
    assert np.isnan(column_symmetry(pixels, table.head(2)))
    given = table.assign(confidence=np.nan)  # a given mask: every body counts
    assert column_symmetry(pixels, given) > 0.9


def test_a_symmetric_film_is_frontal_only_where_its_endplates_read_poorly():
    pixels, table = film(frontal=1)
    assert column_symmetry(pixels, table) > FRONTAL_SYMMETRY
    assert frontal_look(pixels, table.assign(landmark_spread=0.1)) is None
    assert "read poorly" in frontal_look(pixels, table.assign(landmark_spread=0.3))
    assert frontal_look(pixels, table) is None  # no landmark network: never refused
    lateral = film(frontal=0)[0]
    assert frontal_look(lateral, table.assign(landmark_spread=0.3)) is None

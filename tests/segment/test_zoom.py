"""The zoomed pass: the spine's box segmented again at a larger scale, where the film's
pixels allow it; the model JSON's ``"zoom"`` decides."""

import numpy as np
from test_tta import model_copy

from morpho.segment.infer import ZOOM_MIN, Segmenter, zoom_box


def spine_probability(shape=(2000, 1000), column=(300, 1700, 420, 580)) -> np.ndarray:
    """A first pass's probability: a column of bodies (with discs) on an empty film."""
    prob = np.zeros(shape, np.float32)
    top, bottom, left, right = column
    for y in range(top, bottom, 100):
        prob[y : y + 80, left:right] = 0.95
    return prob


def test_zoom_box_pads_the_spine_and_keeps_the_network_budget():
    prob = spine_probability()
    rows, cols = zoom_box(prob, 0.5, 512 * 512, zoom=4.0)
    assert rows.start < 300 and rows.stop > 1680 and cols.start < 420 and cols.stop > 580
    area = (rows.stop - rows.start) * (cols.stop - cols.start)
    assert area >= 512 * 512  # never past the decoded pixels
    assert area * ZOOM_MIN**2 <= prob.size
    small = zoom_box(prob, 0.5, 512 * 512, zoom=1.5)  # at most 1.5x: a larger box
    assert (small[0].stop - small[0].start) * (small[1].stop - small[1].start) >= prob.size / 2.25


def test_no_zoom_when_the_box_covers_the_film_or_nothing_is_found():
    assert zoom_box(np.zeros((600, 400), np.float32), 0.5, 512 * 512, 2.0) is None
    prob = spine_probability((600, 400), (20, 580, 20, 380))
    assert zoom_box(prob, 0.5, 512 * 512, 2.0) is None
    small_film = spine_probability((600, 400), (100, 500, 150, 250))
    assert zoom_box(small_film, 0.5, 512 * 512, 2.0) is None  # 240k px: under the budget


def test_the_zoomed_pass_replaces_the_probability_inside_the_box_only(tmp_path):
    rng = np.random.default_rng(1)
    film = rng.normal(0.3, 0.02, (1800, 900)).astype(np.float32)
    for y in range(200, 1600, 110):  # bright box bodies down a column
        film[y : y + 85, 380:520] += 0.5
    plain = Segmenter(threads=1, flip=False)
    zoomed = Segmenter(model_copy(tmp_path, zoom=2.0), threads=1, flip=False)
    (first,) = plain.probability_maps([film])
    (second,) = zoomed.probability_maps([film])
    box = zoom_box(first, plain.threshold, 512 * 512, 2.0)
    assert box is not None and zoomed.zoomed == 1 and plain.zoomed == 0
    outside = np.ones(film.shape, bool)
    outside[box] = False
    np.testing.assert_array_equal(second[outside], first[outside])
    assert not np.allclose(second[box], first[box])

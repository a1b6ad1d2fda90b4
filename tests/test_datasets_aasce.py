"""The AASCE annotation helpers: quads filled by pixel centre, midline heights, defects."""

import numpy as np

from morpho.datasets.aasce import annotation_defect, by_y, fill_quads, midline_heights


def box(x: float, y: float, w: float, h: float) -> np.ndarray:
    """A quad TL, TR, BR, BL in (x, y)."""
    return np.array([[x, y], [x + w, y], [x + w, y + h], [x, y + h]], float)


def test_a_quad_fills_the_pixels_whose_centres_lie_inside():
    mask = fill_quads(np.array([box(2, 3, 4, 2)]), (10, 10))
    assert mask.sum() == (4 + 1) * (2 + 1)  # pixel centres on the edges count
    assert mask[3:6, 2:7].all()


def test_midline_height_runs_between_the_edges_midpoints():
    tilted = box(0, 0, 10, 6)
    tilted[1, 1] += 2  # top right lower by 2: the top's midpoint 1 lower
    assert np.allclose(midline_heights(np.array([box(0, 0, 10, 6), tilted])), [6, 5])


def test_quads_ordered_cranial_to_caudal():
    quads = np.array([box(0, 20, 5, 5), box(0, 0, 5, 5), box(0, 10, 5, 5)])
    assert [q[0, 1] for q in by_y(quads)] == [0, 10, 20]


def test_defects_are_named():
    sound = np.array([box(0, 10 * k, 8, 6) for k in range(5)])
    assert annotation_defect(sound) == ""
    overlapping = sound.copy()
    overlapping[2] = box(0, 11, 8, 6)
    assert "overlap" in annotation_defect(overlapping)
    twisted = sound.copy()
    twisted[1] = twisted[1][[0, 1, 3, 2]]  # the bottom edge crossed: a bow tie
    assert "twisted" in annotation_defect(twisted)
    flat = sound.copy()
    flat[3] = box(0, 30, 8, 1)
    assert "degenerate" in annotation_defect(flat)

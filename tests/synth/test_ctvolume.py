"""CT loading helpers: the level lookup table and the patient region, on synthetic volumes."""

from __future__ import annotations

import numpy as np
import pytest

from morpho.synth import LEVEL_NAMES
from morpho.synth.ctvolume import TOTALSEG_LEVELS, VERSE_LEVELS, _level_lut, body_region


@pytest.mark.parametrize("table", [VERSE_LEVELS, TOTALSEG_LEVELS])
def test_level_lut_matches_per_label_mapping(table):
    vert = np.random.default_rng(0).integers(-300, 300, (20, 30, 40)).astype(np.int16)
    vert.flat[:2] = (np.iinfo(np.int16).min, np.iinfo(np.int16).max)
    expected = np.zeros(vert.shape, np.uint8)
    for label, name in table.items():
        expected[vert == label] = LEVEL_NAMES.index(name) + 1
    np.testing.assert_array_equal(_level_lut(table)[vert.view(np.uint16)], expected)


def test_body_region_keeps_largest_component_with_holes_filled():
    hu = np.full((40, 40, 30), -1000.0, np.float32)
    hu[5:30, 5:30, 5:25] = 0.0  # the patient
    hu[12:20, 12:20, 8:22] = -1000.0  # lungs: an enclosed hole
    hu[33:39, 5:30, 5:25] = 200.0  # the table: a smaller component, thick enough to survive opening
    region = body_region(hu)
    assert region[15, 15, 15] and region[6, 6, 6] and not region[36, 15, 15]

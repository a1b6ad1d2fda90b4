"""The fixed AASCE split (in the package) and the loader on ../shared/data (skipped if absent)."""

import collections

import pytest

from morpho.datasets.aasce import fixed_split, load_aasce, patient_of
from morpho.resources import shared_data_dir

AASCE = shared_data_dir() / "aasce-ap"


def test_fixed_split_keeps_patients_together():
    split = fixed_split()
    assert collections.Counter(split.values()) == {"train": 358, "val": 47, "test": 76}
    parts = collections.defaultdict(set)
    for name, part in split.items():
        parts[patient_of(name)].add(part)
    assert all(len(p) == 1 for p in parts.values())
    assert patient_of("x-162 A AP.jpg") == patient_of("x-162 B AP.jpg") == "x-162"


@pytest.mark.shared
@pytest.mark.skipif(not AASCE.is_dir(), reason="../shared/data/aasce-ap is absent")
def test_loader_reads_corners_as_17_bodies():
    dataset = load_aasce(AASCE)
    assert len(dataset.items) == 481 and dataset.levels[0] == "T1" and dataset.levels[-1] == "L5"
    assert all(len(item.landmarks) == 68 for item in dataset.items[:20])

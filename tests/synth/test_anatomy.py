"""Anatomy variants: a CT's spine stretched, bent and thinned, masks and truth with it."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from morpho.synth import LEVEL_NAMES
from morpho.synth.anatomy import SOFT_HU, Anatomy, deform_ct
from morpho.synth.ctvolume import CTVolume
from morpho.synth.drr import DRRSource, render_drr

VOXEL = 1.5
FLAT = Anatomy(stretch=1.0, wave=0.0, phase=0.0, bend_mm=0.0, density=1.0)


def three_bodies() -> CTVolume:
    """Three 15 mm boxes (T11, T12, L1) 6 mm apart in a water cylinder, 1.5 mm voxels."""
    n = 64
    hu = np.full((n, n, n), -1000, np.float32)
    idx = (np.indices((n, n, n)) - (n - 1) / 2) * VOXEL
    hu[(idx[0] ** 2 + idx[1] ** 2) < 45**2] = 0.0
    labels = np.zeros((n, n, n), np.uint8)
    for k, name in enumerate(("L1", "T12", "T11")):  # axis 2 runs superior
        z0 = 11 + 14 * k
        hu[22:42, 24:40, z0 : z0 + 10] = 700.0
        labels[22:42, 24:40, z0 : z0 + 10] = LEVEL_NAMES.index(name) + 1
    affine = np.diag([VOXEL, VOXEL, VOXEL, 1.0])
    affine[:3, 3] = -(n - 1) / 2 * VOXEL
    return CTVolume("three", hu, labels, affine)


def _extent(labels: np.ndarray, level: str, axis: int) -> tuple[int, int]:
    found = np.flatnonzero((labels == LEVEL_NAMES.index(level) + 1).any(
        axis=tuple(a for a in range(3) if a != axis)))
    return int(found.min()), int(found.max())


def test_variants_are_fixed_by_seed_name_and_number():
    assert Anatomy.variant(0, "lidc", 0) is None
    assert Anatomy.variant(0, "lidc", 1) == Anatomy.variant(0, "lidc", 1)
    assert Anatomy.variant(0, "lidc", 1) != Anatomy.variant(0, "lidc", 2)
    assert Anatomy.variant(0, "lidc", 1) != Anatomy.variant(1, "lidc", 1)
    volume = three_bodies()
    assert deform_ct(volume, None) is volume
    same = deform_ct(volume, FLAT)
    assert np.array_equal(same.body_labels, volume.body_labels)
    assert np.allclose(same.hu, volume.hu)


def test_a_stretch_makes_bodies_taller_about_the_spine_centre():
    volume = three_bodies()
    taller = deform_ct(volume, dataclasses.replace(FLAT, stretch=1.2))
    for level in ("T11", "T12", "L1"):
        lo, hi = _extent(taller.body_labels, level, 2)
        assert hi - lo + 1 == pytest.approx(10 * 1.2, abs=1)
    assert _extent(taller.body_labels, "T12", 2) == pytest.approx(_extent(volume.body_labels,
                                                                           "T12", 2), abs=1)
    # the labels still cover the dense bone and nothing else
    bone = taller.hu > 350
    assert (bone == (taller.body_labels > 0)).mean() > 0.99


def test_a_bend_moves_the_ends_forward_against_the_middle():
    volume = three_bodies()
    bent = deform_ct(volume, dataclasses.replace(FLAT, bend_mm=6.0))
    shift = [np.mean(_extent(bent.body_labels, lv, 1)) - np.mean(_extent(volume.body_labels, lv, 1))
             for lv in ("T11", "T12", "L1")]  # fmt: skip
    assert abs(shift[1]) <= 0.5  # the middle body stays
    assert shift[0] > 1 and shift[2] > 1  # anterior is +axis 1, in voxels of 1.5 mm


def test_osteopenia_lowers_the_bodies_contrast_only():
    volume = three_bodies()
    thin = deform_ct(volume, dataclasses.replace(FLAT, density=0.6))
    body = volume.body_labels > 0
    assert np.allclose(thin.hu[body], SOFT_HU + 0.6 * (700 - SOFT_HU))
    assert np.array_equal(thin.hu[~body], volume.hu[~body])


def test_a_deformed_ct_renders_with_masks_and_truth_on_its_bones():
    volume = deform_ct(three_bodies(), Anatomy(1.15, 0.1, 1.0, 4.0, 0.8))
    from test_drr import _params

    synth = render_drr(DRRSource(volume), _params(), np.random.default_rng(0))
    assert list(synth.truth["level"]) == ["T11", "T12", "L1"]
    for _, row in synth.truth.iterrows():  # each body's points lie on its mask
        k = ["T11", "T12", "L1"].index(row.level)
        mask = synth.labels > 0
        for point in ("mid_sup", "mid_inf"):
            x, y = int(round(row[f"{point}_x"])), int(round(row[f"{point}_y"]))
            assert mask[max(y - 1, 0) : y + 2, max(x - 1, 0) : x + 2].any(), (k, point)
    heights = synth.truth["hp_px"].to_numpy()
    assert heights.min() > 0.8 * heights.max()

"""DRR: a box-shaped body in a tiny synthetic CT projects to its known height."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from synth_helpers import outline_from_points, polygon_area_centroid, six_points

from morpho.resources import shared_data_dir
from morpho.synth import DATASET_LEVELS, LEVEL_NAMES
from morpho.synth.ctvolume import CTVolume, load_ct
from morpho.synth.detector import Exposure
from morpho.synth.drr import DRRParams, DRRSource, render_drr
from morpho.synth.fractures import make_fracture

VOXEL = 1.5
BOX = (20, 16, 12)  # voxels along x (LR), y (AP), z (SI): 30 x 24 x 18 mm
T12 = LEVEL_NAMES.index("T12") + 1


def box_volume() -> CTVolume:
    n = 64
    hu = np.full((n, n, n), -1000, np.float32)
    idx = (np.indices((n, n, n)) - (n - 1) / 2) * VOXEL
    hu[(idx[0] ** 2 + idx[1] ** 2) < 45**2] = 0.0  # a water cylinder
    labels = np.zeros((n, n, n), np.uint8)
    lo = [(n - s) // 2 for s in BOX]
    sl = tuple(slice(a, a + s) for a, s in zip(lo, BOX, strict=True))
    hu[sl] = 700.0
    labels[sl] = T12
    affine = np.diag([VOXEL, VOXEL, VOXEL, 1.0])
    affine[:3, 3] = -(n - 1) / 2 * VOXEL
    return CTVolume("box", hu, labels, affine)


@pytest.fixture(scope="module")
def source() -> DRRSource:
    return DRRSource(box_volume())


def _params(**kw) -> DRRParams:
    base = dict(size=(128, 128), fov_mm=96.0, cone=True, sid_mm=1000.0, magnification=1.25,
                exposure=Exposure(photons=1e6, collimation=(0, 0, 0, 0)))
    return DRRParams(**{**base, **kw})


def _mask_height(synth) -> int:
    mask = synth.labels == DATASET_LEVELS.index("T12") + 1
    return int(mask[:, mask.shape[1] // 2].sum())


def test_cone_beam_box_height_at_stated_magnification(source):
    synth = render_drr(source, _params(), np.random.default_rng(0))
    height_mm = BOX[2] * VOXEL
    row = synth.truth.iloc[0]
    assert row.level == "T12" and synth.magnification == pytest.approx(1.25)
    # truth: the mid-sagittal plane sits at the isocentre
    for col in ("ha", "hm", "hp"):
        assert row[f"{col}_mm"] == pytest.approx(height_mm * 1.25, abs=0.05)
    # mask: the silhouette, set by the face nearest the source
    sod = 1000.0 / 1.25
    near = height_mm * 1000.0 / (sod - BOX[0] * VOXEL / 2) / synth.pixel_mm
    assert abs(_mask_height(synth) - near) <= 1.0


def test_parallel_beam_box_height(source):
    synth = render_drr(source, _params(cone=False), np.random.default_rng(0))
    assert synth.pixel_mm == pytest.approx(96 / 128)
    assert synth.truth.iloc[0].hm_px == pytest.approx(BOX[2] * VOXEL / synth.pixel_mm, abs=0.05)
    assert abs(_mask_height(synth) - BOX[2] * VOXEL / synth.pixel_mm) <= 1.0


def test_crush_fracture_in_volume_lowers_heights(source):
    crush = make_fracture("crush", 2)
    intact = render_drr(source, _params(cone=False), np.random.default_rng(0))
    broken = render_drr(source, _params(cone=False, fractures={"T12": crush}),
                        np.random.default_rng(0))
    row, ref = broken.truth.iloc[0], intact.truth.iloc[0]
    assert row.fracture_type == "crush" and row.fracture_grade == 2
    assert row.hm_px / ref.hm_px == pytest.approx(1 - crush.loss, abs=0.01)
    assert abs(_mask_height(broken) - row.hm_px) <= 1.5
    assert broken.fractures == {"T12": crush.as_dict()}


def test_same_seed_same_drr(source):
    rng = np.random.default_rng(3)
    params = dataclasses.replace(DRRParams.sample(rng, source, (96, 96)), fov_mm=96.0)
    a = render_drr(source, params, np.random.default_rng(5))
    b = render_drr(source, params, np.random.default_rng(5))
    assert np.array_equal(a.image, b.image) and a.truth.equals(b.truth)
    c = render_drr(source, params, np.random.default_rng(6))
    assert not np.array_equal(a.image, c.image)


@pytest.mark.shared
@pytest.mark.skipif(not (shared_data_dir() / "ct" / "tptbox-l22").is_dir(),
                    reason="needs ../shared/data/ct")
def test_real_ct_bodies_and_truth_agree():
    source = DRRSource(load_ct(shared_data_dir() / "ct" / "tptbox-l22"))
    assert source.volume.levels == ["L2", "L3", "L4"]
    params = dataclasses.replace(_params(size=(160, 160), fov_mm=110.0), facing="right")
    synth = render_drr(source, params, np.random.default_rng(0))
    complete = synth.truth[synth.truth.complete]
    assert list(complete.level) == ["L3"]  # L2 and L4 are cut by the crop
    for _, row in complete.iterrows():
        mask = synth.labels == DATASET_LEVELS.index(row.level) + 1
        ys, xs = np.nonzero(mask)
        _, centroid = polygon_area_centroid(outline_from_points(six_points(row)))
        assert np.hypot(*(centroid - [xs.mean(), ys.mean()])) < 4.0
        assert row.ant_sup_x > row.post_sup_x  # facing right: anterior on the right

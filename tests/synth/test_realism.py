"""Realism steps: deterministic per seed, masks and truth unchanged, shells inside bodies."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from morpho.synth import DATASET_LEVELS, LEVEL_NAMES
from morpho.synth.ctvolume import CTVolume
from morpho.synth.detector import Exposure
from morpho.synth.drr import DRRParams, DRRSource, render_drr
from morpho.synth.fractures import make_fracture
from morpho.synth.realism import Realism, vendor_process

VOXEL = (1.0, 1.0, 2.5)  # a chest CT's thick slices
T11, T12 = (LEVEL_NAMES.index(n) + 1 for n in ("T11", "T12"))


def two_bodies() -> CTVolume:
    """Two boxes (T11 over T12) 5 mm apart in a water cylinder, 2.5 mm slices."""
    shape = (64, 64, 40)
    hu = np.full(shape, -1000, np.float32)
    x, y = np.indices(shape[:2]) - 31.5
    hu[(x ** 2 + y ** 2) < 30 ** 2] = 0.0
    labels = np.zeros(shape, np.uint8)
    for k, z0 in ((T12, 10), (T11, 20)):
        sl = (slice(20, 44), slice(22, 42), slice(z0, z0 + 8))
        hu[sl], labels[sl] = 400.0, k
    affine = np.diag([*VOXEL, 1.0])
    affine[:3, 3] = -(np.array(shape) - 1) / 2 * VOXEL
    return CTVolume("two", hu, labels, affine)


@pytest.fixture(scope="module")
def source() -> DRRSource:
    return DRRSource(two_bodies(), bone_boost=2.0)


def _params(source: DRRSource, seed: int) -> DRRParams:
    params = DRRParams.sample(np.random.default_rng(seed), source, (128, 128))
    return dataclasses.replace(params, fov_mm=110.0, angles_deg=(0.0, 0.0, 0.0),
                               offset_mm=(0.0, 0.0, 0.0),
                               exposure=Exposure(photons=1e6, collimation=(0, 0, 0, 0)))


def _labels_at(volume: CTVolume, affine: np.ndarray, idx: np.ndarray) -> np.ndarray:
    pts = idx @ affine[:3, :3].T + affine[:3, 3]
    inv = np.linalg.inv(volume.affine)
    vox = np.rint(pts @ inv[:3, :3].T + inv[:3, 3]).astype(int)
    return volume.body_labels[tuple(vox.T)]


def test_shell_inside_bodies_disc_between(source):
    detail = source.detail
    assert detail.shell.shape[2] > 2 * (source.volume.hu.shape[2] // 3)  # finer than 2.5 mm
    shell = np.argwhere(detail.shell > 0)
    inside = _labels_at(source.volume, detail.affine, shell) > 0
    assert shell.size and inside.mean() > 0.97  # nearest-voxel rounding at the surface
    disc = np.argwhere(detail.disc)
    assert disc.size and (_labels_at(source.volume, detail.affine, disc) == 0).mean() > 0.97
    z_mm = (disc @ detail.affine[:3, :3].T + detail.affine[:3, 3])[:, 2]
    assert z_mm.min() > -20 and z_mm.max() < 0  # between T12 (top -17.5) and T11 (bottom 1.25)
    assert (source.disc_delta[detail.disc] <= 0).all()


def test_realism_keeps_masks_and_truth(source):
    params = _params(source, 1)
    assert params.realism != Realism()
    real = render_drr(source, params, np.random.default_rng(0))
    plain = render_drr(source, dataclasses.replace(params, realism=Realism()),
                       np.random.default_rng(0))
    assert np.array_equal(real.labels, plain.labels) and real.truth.equals(plain.truth)
    assert not np.array_equal(real.image, plain.image)
    for _, row in real.truth.iterrows():  # the mask's column height matches the truth
        mask = real.labels == DATASET_LEVELS.index(row.level) + 1
        col = int(round(row.mid_sup_x))
        assert abs(mask[:, col].sum() - row.hm_px) <= 2.0


def test_realism_deterministic_per_seed(source):
    a, b = _params(source, 4), _params(source, 4)
    assert a.realism == b.realism
    ia = render_drr(source, a, np.random.default_rng(2)).image
    ib = render_drr(source, b, np.random.default_rng(2)).image
    assert np.array_equal(ia, ib)
    assert Realism.sample(np.random.default_rng(5)) != Realism.sample(np.random.default_rng(6))


def test_realism_drawn_from_child_rng(source):
    on = DRRParams.sample(np.random.default_rng(3), source, (64, 64))
    off = DRRParams.sample(np.random.default_rng(3), source, (64, 64), realism=False)
    assert off.realism == Realism()
    assert dataclasses.replace(on, realism=Realism()) == off  # pose and exposure unchanged


def test_vendor_process_range_and_identity():
    x = np.linspace(0, 1, 64 * 64, dtype=np.float32).reshape(64, 64)
    assert np.allclose(vendor_process(x, Realism()), x)
    for seed in range(20):
        real = Realism.sample(np.random.default_rng(seed))
        out = vendor_process(x, real)
        assert out.dtype == np.float32 and out.min() >= 0 and out.max() <= 1
        assert np.array_equal(out, vendor_process(x, real))


def test_realism_with_fracture_keeps_masks(source):
    params = dataclasses.replace(_params(source, 1), fractures={"T12": make_fracture("crush", 2)})
    real = render_drr(source, params, np.random.default_rng(0))
    plain = render_drr(source, dataclasses.replace(params, realism=Realism()),
                       np.random.default_rng(0))
    assert np.array_equal(real.labels, plain.labels) and real.truth.equals(plain.truth)
    assert real.truth.set_index("level").loc["T12", "fracture_grade"] == 2

"""Reduced-resolution decoding maps back to original pixels exactly."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from batch_dicoms import write_dicom

from morpho.io import read_radiograph
from morpho.io.reduced import read_reduced, reduction_factor
from morpho.resources import shared_data_dir

SAMPLE_J2K = shared_data_dir() / "dicom" / "dx_chest_pa_j2k.dcm"


def _ellipse(shape: tuple[int, int], centre: tuple[float, float], high: int) -> np.ndarray:
    image = np.full(shape, high // 8, np.uint16)
    cv2.ellipse(image, (round(centre[0] * 16), round(centre[1] * 16)), (150 * 16, 90 * 16), 0, 0,
                360, high, -1, cv2.LINE_AA, 4)  # fmt: skip
    return image


def _centroid(mask: np.ndarray) -> np.ndarray:
    ys, xs = np.nonzero(mask)
    return np.array([xs.mean(), ys.mean()])


def test_reduction_factor_keeps_what_the_network_needs():
    assert reduction_factor((2128, 2000), (512, 256)) == 4
    assert reduction_factor((600, 600), (512, 256)) == 1
    assert reduction_factor((8000, 8000), (512, 256)) == 8
    assert reduction_factor((2128, 2000), (512, 512)) == 2
    assert reduction_factor((2128, 2000), lambda shape: (512, 481)) == 4  # aspect kept


@pytest.mark.parametrize("codec", ["jpeg", "j2k"])
def test_reduced_mask_and_points_land_on_original_pixels(tmp_path, codec):
    centre = (401.3, 517.8)  # x, y in original pixels
    if codec == "jpeg":
        image = _ellipse((1040, 800), centre, 255).astype(np.uint8)
        path = tmp_path / "film.jpg"
        cv2.imwrite(str(path), image, [cv2.IMWRITE_JPEG_QUALITY, 95])
    else:
        image = _ellipse((1040, 800), centre, 4000)
        path = write_dicom(tmp_path / "film.dcm", image, j2k=True)
    reduced = read_reduced(path, (128, 128))
    assert reduced is not None and reduced.reduction.factor == 4
    assert reduced.radiograph.pixels.shape == (260, 200)
    bright = reduced.radiograph.pixels > 0.5
    mapped = reduced.reduction.map_to_original(bright) > 0.5
    truth = image > image.max() / 2
    assert mapped.shape == truth.shape
    assert (mapped & truth).sum() / (mapped | truth).sum() > 0.97
    centroid = reduced.reduction.to_original(_centroid(bright)[None])[0]
    assert np.abs(centroid - centre).max() < 0.3
    assert np.abs(_centroid(mapped) - centre).max() < 0.3


def test_png_and_small_images_use_the_full_path(tmp_path):
    cv2.imwrite(str(tmp_path / "a.png"), _ellipse((1040, 800), (400, 500), 255).astype(np.uint8))
    assert read_reduced(tmp_path / "a.png", (128, 128)) is None
    cv2.imwrite(str(tmp_path / "b.jpg"), _ellipse((200, 200), (100, 100), 255).astype(np.uint8))
    assert read_reduced(tmp_path / "b.jpg", (128, 128)) is None


@pytest.mark.skipif(not SAMPLE_J2K.exists(), reason="needs ../shared/data")
def test_real_jpeg2000_radiograph_matches_full_decode():
    reduced = read_reduced(SAMPLE_J2K, (512, 256))
    full = read_radiograph(SAMPLE_J2K)
    assert reduced.reduction.factor == 4 and reduced.reduction.original_shape == full.shape
    assert reduced.radiograph.spacing_mm == full.spacing_mm
    subsampled = full.pixels[::4, ::4]
    assert np.corrcoef(reduced.radiograph.pixels.ravel(), subsampled.ravel())[0, 1] > 0.99

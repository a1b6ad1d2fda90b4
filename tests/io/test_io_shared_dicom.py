"""A real DX chest film (MONOCHROME1, JPEG 2000) from ../shared/data: read with bone bright."""

from __future__ import annotations

import pytest

from morpho.io import read_radiograph
from morpho.io import spacing as rules
from morpho.resources import shared_data_dir

FILM = shared_data_dir() / "dicom" / "dx_chest_pa_j2k.dcm"


@pytest.mark.shared
@pytest.mark.skipif(not FILM.exists(), reason="needs ../shared/data/dicom")
def test_real_monochrome1_j2k_film():
    image = read_radiograph(FILM)
    assert image.pixels.shape == (2128, 2000) and image.photometric == "MONOCHROME1"
    assert (image.view, image.modality, image.bits_stored) == ("pa", "DX", 12)
    assert image.spacing_mm == (0.16, 0.16) and image.spacing_source == rules.DETECTOR
    spine = image.pixels[600:1400, 900:1100].mean()
    right_lung = image.pixels[600:1400, 400:600].mean()
    assert spine > right_lung + 0.2  # bone bright, air dark: MONOCHROME1 was inverted

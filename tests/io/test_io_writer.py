"""write_dicom round trip: what is written is what the reader gets, with no identifiers."""

from __future__ import annotations

import numpy as np
import pydicom
import pytest
from dicom_factory import ramp

from morpho.io import read_radiograph, write_dicom
from morpho.io import spacing as rules


@pytest.mark.parametrize("compression", [None, "rle", "jpeg-ls", "jpeg2000"])
def test_round_trip(tmp_path, compression):
    path = write_dicom(
        tmp_path / "out.dcm", ramp(), spacing_mm=0.18, magnification=1.2, view="lateral",
        facing="left", age=67.4, sex="F", height_cm=162, weight_kg=58.5, compression=compression,
    )  # fmt: skip
    image = read_radiograph(path)
    np.testing.assert_allclose(image.pixels * np.ptp(ramp()) + ramp().min(), ramp(), atol=1e-3)
    assert image.spacing_mm == pytest.approx((0.15, 0.15))
    assert image.spacing_source == rules.MAGNIFICATION
    assert (image.view, image.facing, image.age, image.sex) == ("lateral", "left", 67.0, "F")
    assert (image.height_cm, image.weight_kg, image.modality) == (162.0, 58.5, "DX")
    assert list(tmp_path.iterdir()) == [path]  # no temporary left behind


def test_written_header(tmp_path):
    path = write_dicom(tmp_path / "a.dcm", ramp(), spacing_mm=(0.2, 0.1), view="ap", age=0.5)
    ds = pydicom.dcmread(path)
    assert ds.SOPClassUID.name == "Digital X-Ray Image Storage - For Presentation"
    assert (ds.PatientAge, ds.ViewPosition, ds.PatientName, ds.PatientID) == ("006M", "AP", "", "")
    assert [float(v) for v in ds.ImagerPixelSpacing] == [0.2, 0.1]
    assert "EstimatedRadiographicMagnificationFactor" not in ds and "StudyDate" in ds
    assert read_radiograph(path).spacing_source == rules.DETECTOR


def test_monochrome1_and_window(tmp_path):
    inverted = (4095 - ramp()).astype(np.uint16)
    path = write_dicom(
        tmp_path / "m1.dcm", inverted, spacing_mm=0.2, photometric="MONOCHROME1",
        bits_stored=12, window=(4095 - 600, 400),
    )  # fmt: skip
    image = read_radiograph(path)
    np.testing.assert_allclose(image.pixels, np.clip((ramp() - 400.0) / 400, 0, 1), atol=3e-3)


def test_bad_pixels_rejected(tmp_path):
    with pytest.raises(ValueError, match="2-D uint8/uint16"):
        write_dicom(tmp_path / "x.dcm", ramp().astype(np.int32), spacing_mm=0.2)
    with pytest.raises(ValueError, match=r"within \[0, 1\]"):
        write_dicom(tmp_path / "x.dcm", ramp().astype(np.float32), spacing_mm=0.2)


def test_float_pixels_from_the_reader_round_trip(tmp_path):
    first = read_radiograph(write_dicom(tmp_path / "a.dcm", ramp(), spacing_mm=0.2))
    again = read_radiograph(write_dicom(tmp_path / "b.dcm", first.pixels, spacing_mm=0.2,
                                        bits_stored=12))  # fmt: skip
    assert pydicom.dcmread(tmp_path / "b.dcm").BitsStored == 12
    np.testing.assert_allclose(again.pixels, first.pixels, atol=1 / 4095)

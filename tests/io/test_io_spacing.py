"""Every spacing rule, in order."""

from __future__ import annotations

import pytest
from dicom_factory import make_dataset

from morpho.io import spacing
from morpho.io.spacing import dicom_spacing


def _header(**tags):
    return make_dataset(pixels=False, **tags)


@pytest.mark.parametrize(
    ("tags", "expected", "source"),
    [
        # 1. PixelSpacing calibrated, or different from ImagerPixelSpacing
        (
            {"PixelSpacing": [0.15, 0.15], "ImagerPixelSpacing": [0.15, 0.15],
             "PixelSpacingCalibrationType": "GEOMETRY",
             "EstimatedRadiographicMagnificationFactor": 1.2},
            (0.15, 0.15), spacing.CALIBRATED,
        ),
        (
            {"PixelSpacing": [0.125, 0.13], "ImagerPixelSpacing": [0.15, 0.15],
             "EstimatedRadiographicMagnificationFactor": 1.2},
            (0.125, 0.13), spacing.DIFFERS,
        ),
        # 2. ImagerPixelSpacing / magnification (PixelSpacing equal to it does not count)
        (
            {"PixelSpacing": [0.2, 0.2], "ImagerPixelSpacing": [0.2, 0.2],
             "EstimatedRadiographicMagnificationFactor": 1.25, "DistanceSourceToDetector": 1800,
             "DistanceSourceToPatient": 1500},
            (0.16, 0.16), spacing.MAGNIFICATION,
        ),
        # 3. ImagerPixelSpacing x SOD/SID
        (
            {"ImagerPixelSpacing": [0.18, 0.18], "DistanceSourceToDetector": 1800,
             "DistanceSourceToPatient": 1500},
            (0.15, 0.15), spacing.GEOMETRY,
        ),
        # 4. at the detector, or PixelSpacing for CR
        ({"ImagerPixelSpacing": [0.143, 0.144]}, (0.143, 0.144), spacing.DETECTOR),
        ({"PixelSpacing": [0.1, 0.1], "Modality": "CR"}, (0.1, 0.1), spacing.PIXEL_SPACING),
        # 5. none
        ({}, None, spacing.NONE),
        ({"ImagerPixelSpacing": [0, 0]}, None, spacing.NONE),
    ],
)  # fmt: skip
def test_spacing_rules(tags, expected, source):
    value, named = dicom_spacing(_header(**tags))
    assert named == source
    if expected is None:
        assert value is None
    else:
        assert value == pytest.approx(expected)


def test_sources_say_whether_magnification_was_corrected():
    corrected = [spacing.CALIBRATED, spacing.DIFFERS, spacing.MAGNIFICATION, spacing.GEOMETRY]
    for source in corrected:
        assert source.endswith("(magnification corrected)")
    for source in (spacing.DETECTOR, spacing.PIXEL_SPACING):
        assert source.endswith("(magnification not corrected)")

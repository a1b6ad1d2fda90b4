"""Physical pixel spacing of a projection radiograph, after DICOM PS3.3 and OHIF/Cornerstone.

The rules, in order (the first that applies wins):

1. ``PixelSpacing`` when it differs from ``ImagerPixelSpacing`` or
   ``PixelSpacingCalibrationType`` says it was calibrated;
2. else ``ImagerPixelSpacing / EstimatedRadiographicMagnificationFactor``;
3. else ``ImagerPixelSpacing`` corrected by ``DistanceSourceToPatient /
   DistanceSourceToDetector`` (SOD/SID);
4. else ``ImagerPixelSpacing`` as at the detector, or ``PixelSpacing`` when there is no
   ``ImagerPixelSpacing`` (e.g. CR);
5. else none.

``spacing_source`` holds one of the constants below (ERMF: EstimatedRadiographicMagnification-
Factor; SOD/SID: DistanceSourceToPatient / DistanceSourceToDetector); compare against them.
"""

from __future__ import annotations

import math

from pydicom.dataset import Dataset

CALIBRATED = "PixelSpacing calibrated (magnification corrected)"
DIFFERS = "PixelSpacing differs from imager (magnification corrected)"
MAGNIFICATION = "ImagerPixelSpacing / ERMF (magnification corrected)"
GEOMETRY = "ImagerPixelSpacing x SOD/SID (magnification corrected)"
DETECTOR = "ImagerPixelSpacing at detector (magnification not corrected)"
PIXEL_SPACING = "PixelSpacing (magnification not corrected)"
NONE = "none"

Spacing = tuple[float, float]


def _pair(ds: Dataset, keyword: str) -> Spacing | None:
    """A positive, finite (row, column) pair from a 2-valued DS element, else ``None``."""
    try:
        value = [float(v) for v in ds.get(keyword) or []]
    except (TypeError, ValueError):
        return None
    if len(value) == 1:
        value = value * 2
    if len(value) != 2 or not all(math.isfinite(v) and v > 0 for v in value):
        return None
    return value[0], value[1]


def _positive(ds: Dataset, keyword: str) -> float | None:
    """A positive, finite number from a single-valued element, else ``None``."""
    try:
        value = float(ds.get(keyword))
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) and value > 0 else None


def _scaled(spacing: Spacing, factor: float) -> Spacing:
    return float(f"{spacing[0] * factor:.10g}"), float(f"{spacing[1] * factor:.10g}")


def dicom_spacing(ds: Dataset) -> tuple[Spacing | None, str]:
    """(row, column) spacing in mm, or ``None``, and the name of the rule that gave it."""
    pixel = _pair(ds, "PixelSpacing")
    imager = _pair(ds, "ImagerPixelSpacing")
    if pixel and imager:
        if ds.get("PixelSpacingCalibrationType"):
            return pixel, CALIBRATED
        if not all(math.isclose(p, i, rel_tol=1e-4) for p, i in zip(pixel, imager, strict=True)):
            return pixel, DIFFERS
    if imager:
        magnification = _positive(ds, "EstimatedRadiographicMagnificationFactor")
        if magnification:
            return _scaled(imager, 1 / magnification), MAGNIFICATION
        sid = _positive(ds, "DistanceSourceToDetector")
        sod = _positive(ds, "DistanceSourceToPatient")
        if sid and sod and sod <= sid:
            return _scaled(imager, sod / sid), GEOMETRY
        return imager, DETECTOR
    if pixel:
        if ds.get("PixelSpacingCalibrationType"):
            return pixel, CALIBRATED
        return pixel, PIXEL_SPACING
    return None, NONE

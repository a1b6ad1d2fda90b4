"""Write a 2-D image as a valid DX (digital X-ray) DICOM file, without patient identifiers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import (
    UID,
    DigitalXRayImageStorageForPresentation,
    ExplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGLSLossless,
    RLELossless,
    generate_uid,
)

from morpho import __version__
from morpho.atomic import atomic_write

COMPRESSION: dict[str | None, UID] = {
    None: ExplicitVRLittleEndian,
    "rle": RLELossless,
    "jpeg-ls": JPEGLSLossless,
    "jpeg2000": JPEG2000Lossless,
}
VIEW_POSITION = {"lateral": "LL", "ll": "LL", "rl": "RL", "ap": "AP", "pa": "PA"}
FACING_ORIENTATION = {"right": ["A", "F"], "left": ["P", "F"]}


def _chest_code() -> Dataset:
    """The SNOMED CT code for the chest, as DX's Anatomic Region Sequence item."""
    code = Dataset()
    code.CodeValue, code.CodingSchemeDesignator, code.CodeMeaning = "51185008", "SCT", "Chest"
    return code


def dicom_age(years: float) -> str:
    """A DICOM age string: ``067Y``, or months (``006M``) under one year."""
    return f"{round(years):03d}Y" if years >= 1 else f"{round(years * 12):03d}M"


def _dataset(pixels: np.ndarray, photometric: str, bits_stored: int, syntax: UID) -> Dataset:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = DigitalXRayImageStorageForPresentation
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    for keyword in ("PatientName", "PatientID", "PatientBirthDate", "StudyDate", "StudyTime",
                    "StudyID", "AccessionNumber", "ReferringPhysicianName"):  # fmt: skip
        setattr(ds, keyword, "")  # type 2: present and empty, never an identifier
    ds.Modality = "DX"
    ds.ImageType = ["DERIVED", "PRIMARY"]
    ds.PresentationIntentType = "FOR PRESENTATION"
    ds.SeriesNumber, ds.InstanceNumber = 1, 1
    ds.BurnedInAnnotation = "NO"
    ds.LossyImageCompression = "00"
    ds.ImageLaterality = "U"
    ds.PatientOrientation = ""
    ds.PixelIntensityRelationship = "LIN"
    ds.PixelIntensityRelationshipSign = 1 if photometric == "MONOCHROME2" else -1
    ds.RescaleIntercept, ds.RescaleSlope, ds.RescaleType = 0, 1, "US"
    ds.PresentationLUTShape = "IDENTITY" if photometric == "MONOCHROME2" else "INVERSE"
    ds.set_pixel_data(pixels, photometric, bits_stored)
    if syntax != ExplicitVRLittleEndian:
        ds.compress(syntax)
    return ds


def _stored(pixels: np.ndarray, bits_stored: int) -> np.ndarray:
    """The stored values: integers as they are, floats in [0, 1] scaled to ``bits_stored``."""
    if pixels.ndim == 2 and np.issubdtype(pixels.dtype, np.floating):
        if not (np.isfinite(pixels).all() and pixels.min() >= 0 and pixels.max() <= 1):
            raise ValueError("float pixels must be finite and within [0, 1]")
        top = 2 ** min(bits_stored, 16) - 1
        return np.ascontiguousarray(np.rint(pixels * top).astype(np.uint16))
    if pixels.ndim != 2 or pixels.dtype not in (np.uint8, np.uint16):
        raise ValueError(
            f"pixels must be a 2-D uint8/uint16 array or floats in [0, 1], got {pixels.dtype}"
        )
    return np.ascontiguousarray(pixels)


def write_dicom(
    path: str | Path,
    pixels: np.ndarray,
    *,
    spacing_mm: float | tuple[float, float],
    magnification: float | None = None,
    view: str = "lateral",
    facing: str | None = None,
    age: float | None = None,
    sex: str | None = None,
    height_cm: float | None = None,
    weight_kg: float | None = None,
    photometric: str = "MONOCHROME2",
    bits_stored: int = 16,
    window: tuple[float, float] | None = None,
    compression: str | None = None,
    body_part: str = "CHEST",
) -> Path:
    """Write ``pixels`` (2-D uint16 or uint8, or float in [0, 1] such as
    ``read_radiograph`` returns, stored at ``bits_stored`` bits) as a DX DICOM; returns the path.

    ``spacing_mm`` (row, column, or one number) is the spacing AT THE DETECTOR, written as
    ImagerPixelSpacing; ``magnification`` is written as EstimatedRadiographicMagnificationFactor,
    so a reader gets ``spacing_mm / magnification`` at the patient. ``view`` is 'lateral'
    (ViewPosition LL), 'ap' or 'pa'; ``facing`` ('left'/'right') becomes PatientOrientation
    (P\\F or A\\F). ``age`` in years becomes PatientAge (``067Y``); ``height_cm`` becomes
    PatientSize in metres. ``photometric`` 'MONOCHROME1' means the stored values are inverted
    (bone dark). ``window`` is (centre, width). ``compression``: None, 'rle', 'jpeg-ls' or
    'jpeg2000' (all lossless). No name, id, date or institution is written. The write is
    atomic (a temporary file in the same folder, then a rename).
    """
    pixels = _stored(np.asarray(pixels), bits_stored)
    ds = _dataset(pixels, photometric, min(bits_stored, pixels.itemsize * 8),
                  COMPRESSION[compression])  # fmt: skip
    row, column = (spacing_mm, spacing_mm) if np.isscalar(spacing_mm) else spacing_mm
    ds.ImagerPixelSpacing = [f"{row:.6g}", f"{column:.6g}"]
    if magnification is not None:
        ds.EstimatedRadiographicMagnificationFactor = f"{magnification:.6g}"
    ds.ViewPosition = VIEW_POSITION[view.lower()]
    if facing is not None:
        ds.PatientOrientation = FACING_ORIENTATION[facing]
    if age is not None:
        ds.PatientAge = dicom_age(age)
    ds.PatientSex = sex or ""
    if height_cm is not None:
        ds.PatientSize = f"{height_cm / 100:.4g}"
    if weight_kg is not None:
        ds.PatientWeight = f"{weight_kg:.4g}"
    if window is not None:
        ds.WindowCenter, ds.WindowWidth = f"{window[0]:.6g}", f"{window[1]:.6g}"
    ds.BodyPartExamined = body_part
    if body_part.upper() == "CHEST":  # DX requires the anatomic region as a code
        ds.AnatomicRegionSequence = [_chest_code()]
    ds.Manufacturer = "morpho"
    ds.SoftwareVersions = __version__
    return atomic_write(path, lambda tmp: ds.save_as(tmp, enforce_file_format=True))

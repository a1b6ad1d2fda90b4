"""Small DICOM files made in code (with patient identifiers set, to prove they never leak)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import (
    DigitalXRayImageStorageForPresentation,
    ExplicitVRLittleEndian,
    JPEG2000Lossless,
    generate_uid,
)

PATIENT_NAME = "Zyxwv^Qutsrponm"
PATIENT_ID = "PID-4829175036-ZQX"  # digits long enough not to occur by chance


def write_dicom(path: Path, pixels: np.ndarray, *, j2k: bool = False, view: str = "LL") -> Path:
    """A DX radiograph (MONOCHROME2, 12 bit, 0.2 mm, ViewPosition ``view``) with PatientName
    and PatientID set."""
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = DigitalXRayImageStorageForPresentation
    ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID = DigitalXRayImageStorageForPresentation
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    ds.PatientName, ds.PatientID = PATIENT_NAME, PATIENT_ID
    ds.PatientAge, ds.PatientSex, ds.PatientSize = "067Y", "F", "1.62"
    ds.Modality, ds.ViewPosition, ds.ImagerPixelSpacing = "DX", view, [0.2, 0.2]
    ds.Rows, ds.Columns = pixels.shape
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    ds.PixelData = pixels.astype(np.uint16).tobytes()
    if j2k:
        ds.compress(JPEG2000Lossless)
    ds.save_as(path, enforce_file_format=True)
    return path


def files_holding(folder: Path, secrets: list[str]) -> list[str]:
    """'<file>: <secret>' for every file under ``folder`` that holds one of ``secrets``."""
    return [f"{path.name}: {s}" for path in sorted(folder.rglob("*")) if path.is_file()
            for s in secrets if s.encode() in path.read_bytes()]  # fmt: skip

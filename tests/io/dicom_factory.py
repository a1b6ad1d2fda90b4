"""Small DICOM datasets built in code for the reader tests."""

from __future__ import annotations

import numpy as np
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import DigitalXRayImageStorageForPresentation, ExplicitVRLittleEndian

from morpho.errors import MorphoError
from morpho.io import read_radiograph

IDENTIFIERS = {
    "PatientName": "DOE^JANE",
    "PatientID": "MRN99812",
    "PatientBirthDate": "19570214",
    "StudyDate": "20240307",
    "AccessionNumber": "ACC55501",
    "InstitutionName": "St Elsewhere Hospital",
    "ReferringPhysicianName": "HOUSE^GREGORY",
}


def ramp(rows: int = 96, columns: int = 80) -> np.ndarray:
    """A uint16 test image: a left-to-right ramp 100..1100 with a bright 'bone' block."""
    image = np.tile(np.linspace(100, 1100, columns), (rows, 1))
    image[30:60, 30:50] = 3000
    return image.astype(np.uint16)


def make_dataset(pixels: np.ndarray | None = None, **tags: object) -> Dataset:
    """A DX dataset holding ``pixels`` (default :func:`ramp`) with extra ``tags``."""
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = DigitalXRayImageStorageForPresentation
    ds.file_meta.MediaStorageSOPInstanceUID = "1.2.3.4"
    ds.SOPClassUID = DigitalXRayImageStorageForPresentation
    ds.SOPInstanceUID = "1.2.3.4"
    ds.Modality = "DX"
    photometric = str(tags.pop("PhotometricInterpretation", "MONOCHROME2"))
    if pixels is None:
        pixels = ramp()
    if pixels is not False:
        ds.set_pixel_data(pixels, photometric, int(tags.pop("BitsStored", 12)))
    for keyword, value in tags.items():
        setattr(ds, keyword, value)
    return ds


def assert_refused(path, *words) -> str:
    """Reading ``path`` raises one MorphoError naming the file, its cause holding ``words``."""
    with pytest.raises(MorphoError) as caught:
        read_radiograph(path)
    assert caught.value.path == str(path)
    for word in words:
        assert word in caught.value.cause, caught.value.cause
    return caught.value.cause

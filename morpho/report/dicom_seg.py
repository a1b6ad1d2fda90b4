"""The body mask as a DICOM Segmentation (highdicom) that references its source image.

A Segmentation carries its source's patient and study modules (that is how a PACS files it
next to the image); unless asked to keep them, their identifiers (names, ids, dates,
accession number, institution) are emptied or removed, keeping the UIDs that link it to its
source (``deidentify``).
"""

from __future__ import annotations

from pathlib import Path

import highdicom as hd
import numpy as np
import pydicom
from pydicom.sr.codedict import codes

from morpho import __version__
from morpho.atomic import atomic_write
from morpho.errors import MorphoError

#: Type 2 attributes highdicom copies from the source; an absent one is added empty.
TYPE2_COPIED = ("PatientName", "PatientID", "PatientBirthDate", "PatientSex", "StudyDate",
                "StudyTime", "StudyID", "AccessionNumber", "ReferringPhysicianName")  # fmt: skip


#: Removed (Type 3, or Type 2 of modules the outputs do not need) unless identifiers are kept.
REMOVED = ("IssuerOfPatientID", "OtherPatientIDsSequence", "PatientBirthTime", "PatientAddress",
           "InstitutionName", "InstitutionAddress", "InstitutionalDepartmentName",
           "SeriesDate", "SeriesTime", "AcquisitionDateTime")  # fmt: skip


def deidentify(ds: pydicom.Dataset) -> None:
    """Empty (``TYPE2_COPIED``) or remove (``REMOVED``) what identifies the patient, the
    study's date or the place; the UIDs stay."""
    for keyword in TYPE2_COPIED:
        if keyword in ds:
            setattr(ds, keyword, "")
    for keyword in REMOVED:
        if keyword in ds:
            delattr(ds, keyword)


def write_dicom_seg(source: str | Path, mask: np.ndarray, path: Path, model_version: str,
                    include_identifiers: bool = False) -> Path:
    """Write ``mask`` (bool, the source's size) as a binary DICOM-SEG of the source image,
    de-identified unless ``include_identifiers``."""
    try:
        image = pydicom.dcmread(source)
    except Exception as exc:  # noqa: BLE001 - pydicom raises many kinds
        raise MorphoError(source, f"not a DICOM file, no DICOM-SEG: {exc}") from None
    for keyword in TYPE2_COPIED:
        if keyword not in image:
            setattr(image, keyword, "")
    if mask.shape != (image.Rows, image.Columns):
        raise MorphoError(source, f"mask shape {mask.shape} differs from the image")
    description = hd.seg.SegmentDescription(
        segment_number=1,
        segment_label="vertebral bodies",
        segmented_property_category=codes.SCT.AnatomicalStructure,
        segmented_property_type=codes.SCT.Vertebra,
        algorithm_type=hd.seg.SegmentAlgorithmTypeValues.AUTOMATIC,
        algorithm_identification=hd.AlgorithmIdentificationSequence(
            name="morpho", version=model_version, family=codes.DCM.ArtificialIntelligence
        ),
    )
    segmentation = hd.seg.Segmentation(
        source_images=[image],
        pixel_array=mask.astype(np.uint8),
        segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
        segment_descriptions=[description],
        series_instance_uid=hd.UID(),
        series_number=900,
        sop_instance_uid=hd.UID(),
        instance_number=1,
        manufacturer="morpho",
        manufacturer_model_name="morpho vertebral body segmentation",
        software_versions=__version__,
        device_serial_number="none",
        series_description="morpho vertebral bodies (research use)",
    )
    if not include_identifiers:
        deidentify(segmentation)
    atomic_write(Path(path), lambda tmp: segmentation.save_as(tmp))
    return Path(path)


class SegWriter:
    """Segments DICOM inputs (model loaded once) and writes their DICOM-SEG files."""

    def __init__(self, model_path: str | Path | None = None, segmenter_factory=None):
        from morpho.batch.chain import ChainWorker

        options = {"segmenter_factory": segmenter_factory} if segmenter_factory else {}
        self.worker = ChainWorker(str(model_path) if model_path else None, **options)

    def write(self, source: str | Path, path: Path, include_identifiers: bool = False
              ) -> Path | None:
        """The SEG of ``source`` at ``path``; ``None`` for a non-DICOM input (no SEG)."""
        from morpho.batch.items import BatchItem
        from morpho.io.reader import file_kind

        if file_kind(source) != "dicom":
            return None
        loaded = self.worker.load(BatchItem(key=str(source), path=str(source)))
        mask, _ = self.worker.segment(loaded)
        path.parent.mkdir(parents=True, exist_ok=True)
        return write_dicom_seg(source, mask, path, self.worker.segmenter.model_version,
                               include_identifiers)

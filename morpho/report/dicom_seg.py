"""The bodies as a DICOM Segmentation (highdicom), one segment per body named by its level,
that references its source image, made from what a batch run stored (the body label map
and the de-identified copy of the source's header, ``morpho.stored``): nothing is decoded
or segmented again.

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


IDENTIFYING = ("PatientName", "PatientID", "PatientBirthDate", "StudyDate", "AccessionNumber")


def original_identifiers(path: str | Path) -> dict[str, str]:
    """The patient fields of the original DICOM file's header (read only when identifiers
    are asked for, and only while the file is in place: the run keeps none); {} otherwise."""
    import warnings

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = pydicom.dcmread(path, stop_before_pixels=True)
    except Exception:  # noqa: BLE001 - moved, not DICOM: no patient fields
        return {}
    return {name: str(ds[name].value) for name in IDENTIFYING if name in ds}


def segment_descriptions(
    values: list[int], levels: dict[int, str], model_version: str
) -> list[hd.seg.SegmentDescription]:
    """One segment per body (numbered 1.. in label map order), labelled with its level."""
    algorithm = hd.AlgorithmIdentificationSequence(
        name="morpho", version=model_version, family=codes.DCM.ArtificialIntelligence)
    return [hd.seg.SegmentDescription(
        segment_number=number,
        segment_label=(f"{levels[value]} vertebral body" if levels.get(value)
                       else f"vertebral body {value}"),
        segmented_property_category=codes.SCT.AnatomicalStructure,
        segmented_property_type=codes.SCT.Vertebra,
        algorithm_type=hd.seg.SegmentAlgorithmTypeValues.AUTOMATIC,
        algorithm_identification=algorithm,
    ) for number, value in enumerate(values, start=1)]  # fmt: skip


def write_dicom_seg(source: pydicom.Dataset, labels: np.ndarray, path: Path, model_version: str,
                    include_identifiers: bool = False, levels: dict[int, str] | None = None
                    ) -> Path:
    """Write the body label map ``labels`` (the source's size; value k is the body with
    ``index`` k) as a binary DICOM-SEG of the source image (its header, e.g. the run's
    stored de-identified copy) with one segment per body, named by ``levels`` (index ->
    level name), de-identified unless ``include_identifiers``."""
    for keyword in TYPE2_COPIED:
        if keyword not in source:
            setattr(source, keyword, "")
    if labels.shape != (source.Rows, source.Columns):
        raise MorphoError(path, f"label map shape {labels.shape} differs from the image "
                          f"{(source.Rows, source.Columns)}")  # fmt: skip
    values = [int(v) for v in np.unique(labels) if v > 0]
    if not values:
        raise MorphoError(path, "no body was measured on this film: no segmentation to write")
    numbers = np.zeros(int(labels.max()) + 1, np.uint8)
    numbers[values] = np.arange(1, len(values) + 1)
    segmentation = hd.seg.Segmentation(
        source_images=[source],
        pixel_array=numbers[labels],
        segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
        segment_descriptions=segment_descriptions(values, levels or {}, model_version),
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
    # General Image, Type 2C for a projection image: the source's (empty where it has none)
    segmentation.PatientOrientation = source.get("PatientOrientation", "")
    if not include_identifiers:
        deidentify(segmentation)
    atomic_write(Path(path), lambda tmp: segmentation.save_as(tmp))
    return Path(path)

"""What a batch run keeps of each measured film, so that later stages (report, DICOM SEG
and SR, review) never decode or segment a film again.

Per film, under ``RUN/films/`` and named like every other output (``io.files.output_names``,
mirroring the input tree):

- ``<name>_labels.png``: the body label map (8-bit PNG, the film's original size; value k is
  the vertebra with ``index`` k in measurements.parquet, 0 elsewhere; ``chain.label_map``);
- ``<name>_film.jpg``: a display copy of the film (8-bit, windowed, long side at most
  ``FILM_SIDE`` px), unless the run was made with ``--no-pictures``;
- ``<name>_overlay.png``: the overlay (``report.overlay``, long side ``OVERLAY_SIDE``),
  with ``--overlays`` (reports draw theirs from the film copy);
- ``<name>_source.dcm`` (DICOM inputs): a de-identified copy of the source's header without
  its pixel data (UIDs, geometry, modality and view kept; names, ids, dates, institution,
  free text and private tags dropped), which the SEG and SR reference.

A worker writes them into ``RUN/.staging/<digest of the file key>/`` (each file atomically);
the driver moves them into place (``publish``) before it commits the film, so a committed
film always has its files. ``images.parquet`` records the prefix (``stored``).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import warnings
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pydicom
from pydicom.uid import ExplicitVRLittleEndian

from morpho.atomic import atomic_write, write_bytes, write_png
from morpho.errors import MorphoError
from morpho.io.files import inside

FORMAT = 1  # the stored files' format, recorded in run.json
FILMS = "films"
STAGING = ".staging"
ENDINGS = {"labels": "_labels.png", "film": "_film.jpg", "overlay": "_overlay.png",
           "source": "_source.dcm"}  # fmt: skip
FILM_SIDE = 2048  # long side of the display copy
OVERLAY_SIDE = 1600  # long side of the stored overlay
JPEG_QUALITY = 90
#: The overlay's PNG encoding: the "up" filter only (OpenCV >= 4.10; else its default), which
#: takes ~15% less CPU than OpenCV's default filter choice and a ~30% smaller file on a
#: 1600 px overlay (analysis/speed_profile.py); the pixels are the same (PNG is lossless).
OVERLAY_PNG = ([cv2.IMWRITE_PNG_FILTER, cv2.IMWRITE_PNG_FILTER_UP]
               if hasattr(cv2, "IMWRITE_PNG_FILTER") else [])  # fmt: skip

#: Type 2 attributes of the patient and study modules: kept present, emptied (a SEG or SR
#: copies them from its source).
EMPTIED = ("PatientName", "PatientID", "PatientBirthDate", "StudyDate", "StudyTime", "StudyID",
           "AccessionNumber", "ReferringPhysicianName")  # fmt: skip
#: Removed outright (with every other person name, date, time and private tag).
REMOVED = ("IssuerOfPatientID", "OtherPatientIDs", "OtherPatientIDsSequence",
           "PatientBirthTime", "PatientAddress", "PatientTelephoneNumbers", "PatientComments",
           "PatientBirthName", "PatientMotherBirthName", "MedicalRecordLocator",
           "InstitutionName", "InstitutionAddress", "InstitutionalDepartmentName",
           "StationName", "DeviceSerialNumber", "ImageComments", "StudyDescription",
           "RequestAttributesSequence", "AdditionalPatientHistory", "AdmittingDiagnosesDescription",
           "RequestedProcedureDescription", "PerformedProcedureStepDescription",
           "ProtocolName", "DetectorID", "PlateID", "CassetteID")  # fmt: skip
DATE_VRS = ("DA", "DT", "TM")


def deidentified_header(path: str | Path) -> pydicom.Dataset:
    """The DICOM file's header without pixel data, de-identified (see the module doc)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = pydicom.dcmread(path, stop_before_pixels=True)
    ds.remove_private_tags()

    def scrub(dataset: pydicom.Dataset, element: pydicom.DataElement) -> None:
        keyword = element.keyword
        if keyword in EMPTIED:
            element.value = ""
        elif keyword in REMOVED or element.VR == "PN" or element.VR in DATE_VRS:
            del dataset[element.tag]

    ds.walk(scrub)
    for keyword in EMPTIED:  # present, empty: what highdicom copies into a SEG or SR
        if keyword not in ds:
            setattr(ds, keyword, "")
    ds.PatientIdentityRemoved = "YES"
    ds.DeidentificationMethod = "morpho: names, ids, dates, institution removed; UIDs kept"
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    return ds


def staging_folder(out_dir: Path, key: str) -> Path:
    """Where a worker writes the files of the film with this key before they are published."""
    digest = hashlib.blake2b(key.encode(), digest_size=12).hexdigest()
    return Path(out_dir) / STAGING / digest


def stage_film(folder: Path, labels: np.ndarray, film: np.ndarray | None,
               overlay: np.ndarray | None, source: str | Path | None) -> None:
    """Write one film's files into its staging folder (any earlier ones removed first)."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    write_png(folder / "labels.png", labels)
    if film is not None:
        ok, jpeg = cv2.imencode(".jpg", film, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
        if not ok:
            raise OSError("could not encode the film copy as JPEG")
        write_bytes(folder / "film.jpg", jpeg.tobytes())
    if overlay is not None:
        ok, png = cv2.imencode(".png", overlay, OVERLAY_PNG)
        if not ok:
            raise OSError("could not encode the overlay as PNG")
        write_bytes(folder / "overlay.png", png.tobytes())
    if source is not None:
        header = deidentified_header(source)
        atomic_write(folder / "source.dcm",
                     lambda tmp: header.save_as(tmp, enforce_file_format=True))


def publish(out_dir: Path, key: str, name: str) -> str | None:
    """Move the staged files of ``key`` to ``films/<name>_<kind>``; the prefix
    (``films/<name>``, relative to the run) or None when nothing was staged."""
    folder = staging_folder(out_dir, key)
    if not folder.is_dir():
        return None
    prefix = f"{FILMS}/{name}"
    for kind, ending in ENDINGS.items():
        staged = folder / f"{kind}{Path(ending).suffix}"
        target = inside(Path(out_dir), prefix + ending)
        if staged.is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(staged, target)
        else:
            target.unlink(missing_ok=True)  # left from an earlier run of this film
    shutil.rmtree(folder, ignore_errors=True)
    return prefix


def remove_staging(out_dir: Path) -> None:
    shutil.rmtree(Path(out_dir) / STAGING, ignore_errors=True)


@dataclass(frozen=True)
class StoredFilm:
    """The stored files of one film of a run (``prefix`` from images.parquet's ``stored``)."""

    run: Path
    prefix: str | None
    file: str = ""

    def path(self, kind: str) -> Path | None:
        """The stored file of ``kind`` (see ``ENDINGS``), or None where there is none. A
        prefix that would leave the run folder finds nothing."""
        if not isinstance(self.prefix, str) or not self.prefix:
            return None
        try:
            path = inside(Path(self.run), self.prefix + ENDINGS[kind])
        except MorphoError:
            return None
        return path if path.is_file() else None

    def need(self, kind: str) -> Path:
        """The stored file of ``kind``, or one MorphoError that says what to do."""
        path = self.path(kind)
        if path is None:
            what = {"labels": "body label map", "film": "film copy", "overlay": "overlay",
                    "source": "DICOM header copy"}[kind]  # fmt: skip
            hint = ("the run was made without --overlays" if kind == "overlay"
                    else "the run was made with --no-pictures" if kind == "film"
                    and self.path("labels") else "run morpho batch again into a new folder")
            raise MorphoError(self.file or self.run, f"no stored {what} in the run ({hint})")
        return path

    def labels(self) -> np.ndarray:
        values = cv2.imread(str(self.need("labels")), cv2.IMREAD_UNCHANGED)
        if values is None:
            raise MorphoError(self.file or self.run, "the stored body label map is damaged")
        return values

    def film(self) -> np.ndarray | None:
        """The 8-bit display copy, or None (``--no-pictures``, an older run)."""
        path = self.path("film")
        return None if path is None else cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)

    def source(self) -> pydicom.Dataset:
        return pydicom.dcmread(self.need("source"))

"""A film's vertebral measurements as a DICOM Comprehensive 3D SR (TID 1500 Measurement
Report, highdicom) that references its source image and, when written, its SEG.

One planar ROI group per vertebra: the six-point outline as a closed polyline on the source
image, tracked by its level (else ``#index``); Ha, Hm, Hp (mm, else pixels), the three
ratios, and the Genant grade and type as qualitative evaluations. Concepts DICOM and SNOMED
have no code for are in the private coding scheme ``99MORPHO``. De-identified by default
(``dicom_seg.deidentify``: names, ids, dates, accession number and institution emptied or
removed; the UIDs that link the SR to its source kept).
"""

from __future__ import annotations

import math
from pathlib import Path

import highdicom as hd
import numpy as np
import pandas as pd
import pydicom
from pydicom.sr.codedict import codes

from morpho import __version__
from morpho.atomic import atomic_write
from morpho.errors import MorphoError
from morpho.report.dicom_seg import TYPE2_COPIED, deidentify

SCHEME = "99MORPHO"
OUTLINE = ("ant_sup", "mid_sup", "post_sup", "post_inf", "mid_inf", "ant_inf")
HEIGHTS = {"ha": "Anterior vertebral body height", "hm": "Middle vertebral body height",
           "hp": "Posterior vertebral body height"}  # fmt: skip
RATIOS = {"wedge_ratio": "Anterior/posterior height ratio (wedge)",
          "biconcave_ratio": "Middle/posterior height ratio (biconcave)",
          "crush_ratio": "Posterior height / neighbours' posterior height (crush)"}  # fmt: skip
GRADE = hd.sr.CodedConcept("GENANT-GRADE", SCHEME, "Genant semiquantitative grade")
TYPE = hd.sr.CodedConcept("GENANT-TYPE", SCHEME, "Genant deformity type")
PIXELS = hd.sr.CodedConcept("{pixels}", "UCUM", "pixels")



def concept(value: str, meaning: str) -> hd.sr.CodedConcept:
    """A concept of morpho's private coding scheme."""
    return hd.sr.CodedConcept(value.upper().replace(" ", "-")[:16], SCHEME, meaning)


def _measurements(row: pd.Series) -> list[hd.sr.Measurement]:
    """Heights (mm where the film has a spacing, else pixels) and the three ratios."""
    out = []
    for key, meaning in HEIGHTS.items():
        mm = row.get(f"{key}_mm")
        value, unit = (mm, codes.UCUM.Millimeter) if pd.notna(mm) else (row[f"{key}_px"], PIXELS)
        if pd.notna(value):
            out.append(hd.sr.Measurement(concept(key, meaning), round(float(value), 2), unit))
    for name, meaning in RATIOS.items():
        if pd.notna(row[name]):
            out.append(hd.sr.Measurement(concept(name.split("_")[0], meaning),
                                         round(float(row[name]), 4), codes.UCUM.NoUnits))
    return out


def _evaluations(row: pd.Series) -> list[hd.sr.QualitativeEvaluation]:
    grade = row["genant_grade"]
    value = "ungradable" if pd.isna(grade) else f"grade {int(grade)}"
    return [hd.sr.QualitativeEvaluation(GRADE, concept(value, f"Genant {value}")),
            hd.sr.QualitativeEvaluation(TYPE, concept(str(row["genant_type"]),
                                                      str(row["genant_type"])))]


def _vertebra(row: pd.Series, source: hd.sr.SourceImageForRegion,
              algorithm: hd.sr.AlgorithmIdentification):
    """One vertebra's ROI group, or None without its six points."""
    points = [(row[f"{p}_x"], row[f"{p}_y"]) for p in OUTLINE]
    if not all(math.isfinite(v) for xy in points for v in xy):
        return None
    outline = np.array([*points, points[0]], float) + 0.5  # SCOORD: (column, row), pixel edges
    name = row["level"] if isinstance(row["level"], str) and row["level"] else f"#{row['index']}"
    return hd.sr.PlanarROIMeasurementsAndQualitativeEvaluations(
        tracking_identifier=hd.sr.TrackingIdentifier(uid=hd.UID(), identifier=name),
        referenced_region=hd.sr.ImageRegion(hd.sr.GraphicTypeValues.POLYLINE, outline, source),
        finding_type=codes.SCT.Vertebra,
        algorithm_id=algorithm,
        measurements=_measurements(row),
        qualitative_evaluations=_evaluations(row),
    )


def build_sr(source: pydicom.Dataset, film: pd.DataFrame, model_version: str,
             seg: pydicom.Dataset | None = None) -> hd.sr.Comprehensive3DSR:
    """The measurement report of one film (its measurement rows) on its source image."""
    region_source = hd.sr.SourceImageForRegion.from_source_image(source)
    algorithm = hd.sr.AlgorithmIdentification(name="morpho", version=model_version)
    groups = [g for _, row in film.iterrows() if (g := _vertebra(row, region_source, algorithm))]
    observer = hd.sr.ObserverContext(
        observer_type=codes.DCM.Device,
        observer_identifying_attributes=hd.sr.DeviceObserverIdentifyingAttributes(
            uid=hd.UID(), name="morpho", model_name=model_version),
    )  # fmt: skip
    report = hd.sr.MeasurementReport(
        observation_context=hd.sr.ObservationContext(observer_device_context=observer),
        procedure_reported=concept("morphometry", "Vertebral morphometry"),
        imaging_measurements=groups,
    )
    return hd.sr.Comprehensive3DSR(
        evidence=[source, *([seg] if seg is not None else [])], content=report[0],
        series_instance_uid=hd.UID(), series_number=901, sop_instance_uid=hd.UID(),
        instance_number=1, manufacturer="morpho",
        series_description="morpho vertebral morphometry (research use)",
        software_versions=__version__,
    )  # fmt: skip


def write_dicom_sr(source: pydicom.Dataset, film: pd.DataFrame, path: Path, model_version: str,
                   seg: str | Path | None = None, include_identifiers: bool = False) -> Path:
    """Write the SR of ``film`` (one image's measurement rows) on the DICOM ``source`` (its
    header, e.g. the run's stored de-identified copy)."""
    try:
        segmentation = pydicom.dcmread(seg, stop_before_pixels=True) if seg else None
    except Exception as exc:  # noqa: BLE001 - pydicom raises many kinds
        raise MorphoError(seg, f"not a readable DICOM SEG, no SR: {exc}") from None
    for keyword in TYPE2_COPIED:  # Type 2 in the SR: an absent one is added empty
        if keyword not in source:
            setattr(source, keyword, "")
    sr = build_sr(source, film, model_version, segmentation)
    scheme = pydicom.Dataset()  # the private scheme declared, as PS3.3 C.12.1.1.4 asks
    scheme.CodingSchemeDesignator = SCHEME
    scheme.CodingSchemeName = "morpho vertebral morphometry concepts"
    scheme.CodingSchemeResponsibleOrganization = "morpho"
    sr.CodingSchemeIdentificationSequence = [scheme]
    if not include_identifiers:
        deidentify(sr)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    atomic_write(Path(path), lambda tmp: sr.save_as(tmp))
    return Path(path)

"""The few non-identifying facts the later stages use, read from a DICOM header.

Only view, facing, age, sex, height, weight, modality, manufacturer and body part are read.
Names, ids, dates, accession numbers and institution are never touched.
"""

from __future__ import annotations

import re

from pydicom.dataset import Dataset

_AGE_UNITS = {"D": 1 / 365.25, "W": 7 / 365.25, "M": 1 / 12, "Y": 1.0}
_VIEW_WORDS = (
    ("lateral", re.compile(r"\b(LAT|LATERAL|LL|RL|LLD|RLD)\b")),
    ("ap", re.compile(r"\b(AP|ANTERO-?POSTERIOR|ANTEROPOSTERIOR)\b")),
    ("pa", re.compile(r"\b(PA|POSTERO-?ANTERIOR|POSTEROANTERIOR)\b")),
)


def _text(ds: Dataset, keyword: str) -> str | None:
    value = ds.get(keyword)
    text = str(value).strip() if value is not None else ""
    return text or None


def _number(ds: Dataset, keyword: str) -> float | None:
    try:
        value = float(ds.get(keyword))
    except (TypeError, ValueError):
        return None
    return value if value > 0 else None


def _view_from_text(text: str | None) -> str | None:
    if not text:
        return None
    upper = text.upper().replace("_", " ")
    for view, pattern in _VIEW_WORDS:
        if pattern.search(upper):
            return view
    return None


def parse_view(ds: Dataset) -> str:
    """'lateral', 'ap', 'pa' or 'unknown' from ViewPosition, the view code, then descriptions."""
    codes = ds.get("ViewCodeSequence") or []
    candidates = [_text(ds, "ViewPosition")]
    candidates += [_text(item, "CodeMeaning") for item in codes]
    candidates += [_text(ds, k) for k in ("SeriesDescription", "ProtocolName", "StudyDescription")]
    for text in candidates:
        view = _view_from_text(text)
        if view:
            return view
    return "unknown"


def parse_facing(ds: Dataset) -> str | None:
    """Which way the patient faces in the image, from PatientOrientation's row direction.

    The first value names the patient direction towards the image's right edge:
    anterior (``A``) means the patient faces right, posterior (``P``) faces left.
    """
    orientation = ds.get("PatientOrientation")
    if not orientation or isinstance(orientation, str):
        return None
    row_direction = str(orientation[0]).upper()[:1]
    return {"A": "right", "P": "left"}.get(row_direction)


def parse_age(text: str | None) -> float | None:
    """Years from a DICOM age string such as ``067Y``, ``006M``, ``012W`` or ``030D``."""
    match = re.fullmatch(r"\s*(\d{1,3})\s*([DWMY])\s*", text or "", flags=re.IGNORECASE)
    if not match:
        return None
    return round(int(match.group(1)) * _AGE_UNITS[match.group(2).upper()], 3)


def parse_height_cm(ds: Dataset) -> float | None:
    """Height in cm from PatientSize (metres; a value above 3 is taken as already in cm)."""
    size = _number(ds, "PatientSize")
    if size is None:
        return None
    return round(size if size > 3 else size * 100, 1)


def header_facts(ds: Dataset) -> dict[str, object]:
    """The non-identifying facts of a DICOM header, named as ``Radiograph`` fields."""
    sex = (_text(ds, "PatientSex") or "").upper()
    return {
        "view": parse_view(ds),
        "facing": parse_facing(ds),
        "age": parse_age(_text(ds, "PatientAge")),
        "sex": sex if sex in ("M", "F", "O") else None,
        "height_cm": parse_height_cm(ds),
        "weight_kg": _number(ds, "PatientWeight"),
        "modality": _text(ds, "Modality"),
        "manufacturer": _text(ds, "Manufacturer"),
        "body_part": _text(ds, "BodyPartExamined"),
    }

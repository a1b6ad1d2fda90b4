"""One row of facts per file, for ``morpho info`` and cohort checks."""

from __future__ import annotations

from pathlib import Path

from morpho.io.reader import read_radiograph

COLUMNS = (
    "file", "file_bytes", "rows", "columns", "bits_stored", "photometric", "spacing_mm",
    "spacing_source", "view", "facing", "age", "sex", "height_cm", "weight_kg", "modality",
    "manufacturer", "body_part",
)  # fmt: skip


def describe(path: str | Path) -> dict[str, object]:
    """Read the file fully (so every check runs) and return its non-identifying facts."""
    radiograph = read_radiograph(path)
    facts = radiograph.to_dict()
    facts["file"] = str(path)
    facts["file_bytes"] = Path(path).stat().st_size
    return {column: facts[column] for column in COLUMNS}

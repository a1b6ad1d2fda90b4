"""What a batch runs over: the files of a folder, or the rows of a manifest CSV."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from morpho.errors import MorphoError
from morpho.io.files import find_images

#: Manifest columns that override what a file's header says about the subject.
DEMOGRAPHIC_COLUMNS = ("age", "sex", "height_cm", "weight_kg")


@dataclass(frozen=True)
class BatchItem:
    """One input file. ``key`` (its path relative to the input) is unique within a run."""

    key: str
    path: str
    subject: str | None = None
    demographics: dict[str, object] = field(default_factory=dict)


def items_from_input(source: Path) -> list[BatchItem]:
    """Items of a folder (searched recursively for image suffixes, as every command does) or
    of a manifest CSV, in a stable order."""
    source = Path(source)
    if source.is_dir():
        return _items_from_folder(source)
    if source.suffix.lower() == ".csv":
        return _items_from_manifest(source)
    if source.is_file():
        return [BatchItem(key=source.name, path=str(source.resolve()))]
    raise MorphoError(source, "no such file or folder")


def _items_from_folder(folder: Path) -> list[BatchItem]:
    files = find_images(folder)
    return [BatchItem(key=p.relative_to(folder).as_posix(), path=str(p.resolve())) for p in files]


def _items_from_manifest(manifest: Path) -> list[BatchItem]:
    table = pd.read_csv(manifest, dtype={"subject_id": str})
    if "path" not in table.columns:
        raise MorphoError(manifest, "manifest needs a 'path' column")
    items = []
    for row in table.to_dict("records"):
        path = Path(str(row["path"]))
        if not path.is_absolute():
            path = manifest.parent / path
        subject = row.get("subject_id")
        demographics = {
            name: row[name]
            for name in DEMOGRAPHIC_COLUMNS
            if name in row and not pd.isna(row[name])
        }
        items.append(
            BatchItem(
                key=str(row["path"]),
                path=str(path.resolve()),
                subject=None if subject is None or pd.isna(subject) else str(subject),
                demographics=demographics,
            )
        )
    keys = [item.key for item in items]
    if len(set(keys)) != len(keys):
        raise MorphoError(manifest, "manifest lists a path more than once")
    return items

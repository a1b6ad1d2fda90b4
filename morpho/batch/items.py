"""What a batch runs over: the files of a folder, or the rows of a manifest CSV."""

from __future__ import annotations

import csv
from collections.abc import Sequence
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


def items_from_input(source: Path, skip: Sequence[Path] = ()) -> list[BatchItem]:
    """Items of a folder (searched recursively for image suffixes, as every command does,
    leaving out ``skip``, the output folder for one) or of a manifest CSV, in a stable order."""
    source = Path(source)
    if source.is_dir():
        files = find_images(source, skip=skip)
        return [BatchItem(p.relative_to(source).as_posix(), str(p.resolve())) for p in files]
    if source.suffix.lower() == ".csv":
        return _items_from_manifest(source)
    if source.is_file():
        return [BatchItem(key=source.name, path=str(source.resolve()))]
    raise MorphoError(source, "no such file or folder")


def _read_manifest(manifest: Path) -> pd.DataFrame:
    """The manifest as text columns (one error line for an empty, binary or broken CSV)."""
    try:
        data = manifest.read_bytes()
        if b"\x00" in data:
            raise ValueError("binary data, not text")
        data.decode("utf-8-sig")
        return pd.read_csv(manifest, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except pd.errors.EmptyDataError:
        raise MorphoError(manifest, "empty manifest (needs a 'path' column)") from None
    except (OSError, ValueError, pd.errors.ParserError, csv.Error) as exc:
        cause = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise MorphoError(manifest, f"not a readable manifest CSV: {cause}") from None


def _number(value: str, name: str, manifest: Path, line: int) -> float:
    try:
        return float(value)
    except ValueError:
        raise MorphoError(manifest, f"line {line}: {name} {value!r} is not a number") from None


def _items_from_manifest(manifest: Path) -> list[BatchItem]:
    table = _read_manifest(manifest)
    if "path" not in table.columns:
        raise MorphoError(manifest, "manifest needs a 'path' column")
    items = []
    for line, row in enumerate(table.to_dict("records"), start=2):
        if not row["path"].strip():
            raise MorphoError(manifest, f"line {line}: no path")
        if any(c in row["path"] for c in '"\r\n'):
            raise MorphoError(manifest, f"line {line}: a quote or line break in the path "
                              "(badly quoted CSV?)")
        path = Path(row["path"])
        if not path.is_absolute():
            path = manifest.parent / path
        demographics: dict[str, object] = {
            name: row[name] if name == "sex" else _number(row[name], name, manifest, line)
            for name in DEMOGRAPHIC_COLUMNS
            if row.get(name, "").strip()
        }
        subject = row.get("subject_id", "").strip()
        items.append(BatchItem(row["path"], str(path.resolve()), subject or None, demographics))
    keys = [item.key for item in items]
    if len(set(keys)) != len(keys):
        raise MorphoError(manifest, "manifest lists a path more than once")
    return items

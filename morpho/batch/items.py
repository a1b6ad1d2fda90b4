"""What a batch runs over: the files of a folder, or the rows of a manifest CSV."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from morpho.errors import MorphoError
from morpho.io.files import find_images
from morpho.label.levels import check_level

#: Manifest columns that override what a file's header says about the subject.
DEMOGRAPHIC_COLUMNS = ("age", "sex", "height_cm", "weight_kg")
#: Manifest columns that set how one image is measured (over the run's options).
SETTING_COLUMNS = ("first_level", "last_level", "view", "anterior")
VIEWS = ("lateral", "ap", "pa")
FACINGS = ("left", "right")
SEXES = ("M", "F", "O")


class ManifestError(MorphoError):
    """A manifest with bad rows: ``problems`` holds one line per bad row."""

    def __init__(self, path: str | Path, problems: list[str]):
        super().__init__(path, f"{len(problems)} bad row(s) in the manifest")
        self.problems = problems


@dataclass(frozen=True)
class BatchItem:
    """One input file. ``key`` (its path relative to the input) is unique within a run."""

    key: str
    path: str
    subject: str | None = None
    demographics: dict[str, object] = field(default_factory=dict)
    settings: dict[str, str] = field(default_factory=dict)  # SETTING_COLUMNS


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


def _demographic(name: str, value: str) -> object:
    """A manifest's demographic value, checked (ValueError with the cause)."""
    if name == "sex":
        if value.upper() not in SEXES:
            raise ValueError(f"sex {value!r} is not one of {', '.join(SEXES)}")
        return value.upper()
    try:
        return float(value)
    except ValueError:
        raise ValueError(f"{name} {value!r} is not a number") from None


def _setting(name: str, value: str) -> str:
    """A manifest's per-image setting, normalised (ValueError with the cause)."""
    if name in ("first_level", "last_level"):
        return str(check_level(value))
    allowed = VIEWS if name == "view" else FACINGS
    if value.lower() not in allowed:
        raise ValueError(f"{name} {value!r} is not one of {', '.join(allowed)}")
    return value.lower()


def _row_item(row: dict[str, str], manifest: Path) -> BatchItem:
    """One manifest row as an item (ValueError with every cause of a bad row)."""
    if not row["path"].strip():
        raise ValueError("no path")
    if any(c in row["path"] for c in '"\r\n'):
        raise ValueError("a quote or line break in the path (badly quoted CSV?)")
    path = Path(row["path"])
    if not path.is_absolute():
        path = manifest.parent / path
    present = {name: row[name].strip() for name in row if row[name] and row[name].strip()}
    values, causes = {}, []
    for name in (*DEMOGRAPHIC_COLUMNS, *SETTING_COLUMNS):
        try:
            if name in present:
                check = _demographic if name in DEMOGRAPHIC_COLUMNS else _setting
                values[name] = check(name, present[name])
        except ValueError as exc:
            causes.append(str(exc))
    if causes:
        raise ValueError("; ".join(causes))
    demographics = {n: values[n] for n in DEMOGRAPHIC_COLUMNS if n in values}
    settings = {n: values[n] for n in SETTING_COLUMNS if n in values}
    subject = present.get("subject_id")
    return BatchItem(row["path"], str(path.resolve()), subject, demographics, settings)


def _items_from_manifest(manifest: Path) -> list[BatchItem]:
    """The manifest's rows as items; every bad row is one line of a ``ManifestError``."""
    table = _read_manifest(manifest)
    if "path" not in table.columns:
        raise MorphoError(manifest, "manifest needs a 'path' column")
    items, problems = [], []
    for line, row in enumerate(table.to_dict("records"), start=2):
        try:
            items.append(_row_item(row, manifest))
        except ValueError as exc:
            problems.append(f"line {line}: {exc}")
    if problems:
        raise ManifestError(manifest, problems)
    keys = [item.key for item in items]
    if len(set(keys)) != len(keys):
        raise MorphoError(manifest, "manifest lists a path more than once")
    return items

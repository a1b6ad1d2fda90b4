"""Assemble a run's tables from the store and write them atomically."""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from morpho.atomic import TMP_PREFIX, TMP_SUFFIX, atomic_write
from morpho.batch.items import DEMOGRAPHIC_COLUMNS, BatchItem
from morpho.batch.worker import ImageResult
from morpho.measure import MEASUREMENT_COLUMNS

#: One row per image in images.parquet, in this order.
IMAGE_COLUMNS = [
    "file", "path", "image", "subject", "status", "cause", "rows", "cols", "decode_factor",
    "read_s", "process_s", "segment_s", "measure_s", "model_version", "spacing_source", "view",
    "qa", "n_vertebrae",
    *DEMOGRAPHIC_COLUMNS,
]  # fmt: skip
SUBJECT_COLUMNS = ["subject", *DEMOGRAPHIC_COLUMNS]
SCORING_PREFIX = ".scoring-"
OUTPUT_NAMES = ("measurements.parquet", "measurements.csv", "images.parquet", "failures.csv")


def remove_stale_temporaries(folder: Path) -> None:
    """Delete temporaries left by a run killed while writing its outputs."""
    for name in OUTPUT_NAMES:
        for leftover in Path(folder).glob(f"{TMP_PREFIX}{name}.*{TMP_SUFFIX}*"):
            leftover.unlink(missing_ok=True)
    for leftover in Path(folder).glob(f"{SCORING_PREFIX}*"):
        shutil.rmtree(leftover, ignore_errors=True)


def image_table(items: Sequence[BatchItem], results: dict[str, ImageResult]) -> pd.DataFrame:
    """One row per item (input order): header facts, overridden by the manifest's values."""
    rows = []
    for item in items:
        result = results[item.key]
        row = {**result.facts, **item.demographics}
        row.update(file=item.key, path=item.path, subject=item.subject, status=result.status,
                   cause=result.cause)  # fmt: skip
        row.setdefault("image", Path(item.key).stem)
        rows.append(row)
    table = pd.DataFrame(rows)
    return table.reindex(columns=IMAGE_COLUMNS)


def measurement_table(
    items: Sequence[BatchItem], results: dict[str, ImageResult], images: pd.DataFrame
) -> pd.DataFrame:
    """All vertebrae of the successful items, in input order: ``file``, the measure columns,
    then the image's ``subject`` and covariates (for ``morpho stats``)."""
    tables = []
    for item in items:
        table = results[item.key].table()
        if table is not None and len(table):
            tables.append(table.assign(file=item.key))
    if not tables:
        return pd.DataFrame(columns=["file", *MEASUREMENT_COLUMNS, *SUBJECT_COLUMNS])
    table = pd.concat(tables, ignore_index=True)
    table = table[["file", *[c for c in table.columns if c != "file"]]]
    return table.merge(images[["file", *SUBJECT_COLUMNS]], on="file", how="left")


def failure_table(items: Sequence[BatchItem], results: dict[str, ImageResult]) -> pd.DataFrame:
    rows = [
        {"file": item.key, "cause": results[item.key].cause}
        for item in items
        if results[item.key].status != "ok"
    ]
    return pd.DataFrame(rows, columns=["file", "cause"])


def write_tables(
    out_dir: Path, images: pd.DataFrame, measurements: pd.DataFrame, failures: pd.DataFrame
) -> None:
    """measurements.parquet/.csv, images.parquet and failures.csv, each written atomically."""
    out_dir = Path(out_dir)
    atomic_write(
        out_dir / "measurements.parquet", lambda p: measurements.to_parquet(p, index=False)
    )
    atomic_write(out_dir / "measurements.csv", lambda p: measurements.to_csv(p, index=False))
    atomic_write(out_dir / "images.parquet", lambda p: images.to_parquet(p, index=False))
    atomic_write(out_dir / "failures.csv", lambda p: failures.to_csv(p, index=False))

"""Assemble a run's tables from the store and write them atomically."""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from morpho.atomic import TMP_PREFIX, TMP_SUFFIX, atomic_write
from morpho.batch.items import DEMOGRAPHIC_COLUMNS, BatchItem
from morpho.batch.store import ResultStore
from morpho.batch.worker import ImageResult
from morpho.io.files import output_names
from morpho.measure import EXTRA_COLUMNS, MEASUREMENT_COLUMNS
from morpho.stored import remove_staging

#: The film-level screening result (``morpho.chain.film_calls``).
FILM_CALL_COLUMNS = [
    "gradable", "plausible", "worst_grade", "any_grade2", "sdi", "driver", "driver_type",
]  # fmt: skip
#: One row per image in images.parquet, in this order.
IMAGE_COLUMNS = [
    "file", "path", "image", "subject", "status", "cause", "rows", "cols", "decode_factor",
    "read_s", "process_s", "segment_s", "measure_s", "model_version", "model_sha256",
    "spacing_source", "view", "qa", "n_vertebrae", *FILM_CALL_COLUMNS, "stored",
    *DEMOGRAPHIC_COLUMNS,
]  # fmt: skip
SUBJECT_COLUMNS = ["subject", *DEMOGRAPHIC_COLUMNS]
KEYS_PER_READ = 500  # images whose measurements are read from the store at once
OUTPUT_NAMES = ("measurements.parquet", "measurements.csv", "images.parquet", "failures.csv",
                "run.json")


def remove_stale_temporaries(folder: Path) -> None:
    """Delete temporaries left by a run killed while writing its outputs."""
    for name in OUTPUT_NAMES:
        for leftover in Path(folder).glob(f"{TMP_PREFIX}{name}.*{TMP_SUFFIX}*"):
            leftover.unlink(missing_ok=True)
    remove_staging(folder)


def image_table(items: Sequence[BatchItem], results: dict[str, ImageResult]) -> pd.DataFrame:
    """One row per item (input order): header facts, overridden by the manifest's values;
    ``image`` is the item's collision-free name (``output_names``)."""
    rows = []
    names = output_names([item.key for item in items])
    for item, name in zip(items, names, strict=True):
        result = results[item.key]
        row = {**result.facts, **item.demographics}
        row.update(file=item.key, path=item.path, subject=item.subject, status=result.status,
                   cause=result.cause, image=name)  # fmt: skip
        rows.append(row)
    table = pd.DataFrame(rows)
    return table.reindex(columns=IMAGE_COLUMNS)


def measurement_batches(
    items: Sequence[BatchItem], store: ResultStore, images: pd.DataFrame
) -> Iterator[pd.DataFrame]:
    """The vertebrae of the successful items in input order, a few hundred images at a time:
    ``file``, the measure columns (``image`` the unique name), then ``subject`` and covariates."""
    subjects = images.set_index("file")[SUBJECT_COLUMNS]
    names = dict(zip(images["file"], images["image"], strict=True))
    for start in range(0, len(items), KEYS_PER_READ):
        keys = [item.key for item in items[start : start + KEYS_PER_READ]]
        blobs = store.measurements(keys)
        tables = [
            pd.read_parquet(io.BytesIO(blobs[k])).assign(file=k, image=names[k])
            for k in keys
            if k in blobs
        ]
        tables = [t for t in tables if len(t)]
        if tables:
            table = pd.concat(tables, ignore_index=True)
            table = table[["file", *(c for c in table.columns if c != "file")]]
            yield table.join(subjects, on="file")


def _stream_tables(batches: Iterable[pd.DataFrame], parquet: Path, csv: Path) -> None:
    """Write the batches to one Parquet and one CSV file, with the first batch's schema
    (all-missing text columns typed as strings, integers allowed to be missing later)."""
    schema, writers = None, []
    for frame in batches:
        if schema is None:
            table = pa.Table.from_pandas(frame, preserve_index=False)
            schema = pa.schema(
                f.with_type(pa.string()) if pa.types.is_null(f.type) else f for f in table.schema
            )
            writers = [pq.ParquetWriter(parquet, schema), pa_csv.CSVWriter(csv, schema)]
        table = pa.Table.from_pandas(frame.reindex(columns=schema.names), schema=schema,
                                     preserve_index=False)  # fmt: skip
        for writer in writers:
            writer.write_table(table)
    for writer in writers:
        writer.close()
    if schema is None:
        empty = pd.DataFrame(
            columns=["file", *MEASUREMENT_COLUMNS, *EXTRA_COLUMNS, *SUBJECT_COLUMNS]
        )
        empty.to_parquet(parquet, index=False)
        empty.to_csv(csv, index=False)


def write_measurements(out_dir: Path, batches: Iterable[pd.DataFrame]) -> None:
    """measurements.parquet and measurements.csv, streamed, each renamed into place."""
    out_dir = Path(out_dir)
    atomic_write(
        out_dir / "measurements.parquet",
        lambda parquet: atomic_write(
            out_dir / "measurements.csv", lambda csv: _stream_tables(batches, parquet, csv)
        ),
    )


def failure_table(items: Sequence[BatchItem], results: dict[str, ImageResult]) -> pd.DataFrame:
    rows = [
        {"file": item.key, "cause": results[item.key].cause}
        for item in items
        if results[item.key].status != "ok"
    ]
    return pd.DataFrame(rows, columns=["file", "cause"])


def write_tables(out_dir: Path, images: pd.DataFrame, failures: pd.DataFrame) -> None:
    """images.parquet and failures.csv, each written atomically."""
    out_dir = Path(out_dir)
    atomic_write(out_dir / "images.parquet", lambda p: images.to_parquet(p, index=False))
    atomic_write(out_dir / "failures.csv", lambda p: failures.to_csv(p, index=False))

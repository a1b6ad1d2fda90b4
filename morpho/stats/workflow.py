"""File-level steps behind `morpho stats fit | score | summary`.

A Parquet measurements table (what ``morpho batch`` writes) is streamed in row batches
(``morpho.stats.stream``), so a million films' vertebrae fit, score and summarise in a few
GiB; the results equal those of the whole table loaded at once. CSV tables are loaded whole.
"""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from morpho.atomic import atomic_write
from morpho.errors import MorphoError
from morpho.stats.design import variables
from morpho.stats.inputs import Exclusions, load_cohort, read_table, require_columns
from morpho.stats.literature import literature_reference
from morpho.stats.plots import write_plots
from morpho.stats.reference import (
    DEFAULT_FORMULA,
    FIT_SAMPLE,
    MM_MEASURES,
    SCALE_FREE,
    Reference,
    fit_reference,
    fit_rows,
)
from morpho.stats.score import (
    FLAG_RATIOS,
    FLAG_SD,
    GEOMETRY,
    combine_subjects,
    score,
    subject_summary,
)
from morpho.stats.stream import BATCH_ROWS, CohortStream, streamable, table_columns
from morpho.stats.summary import HEIGHTS_MM, HEIGHTS_REL, prevalence, write_summary

SCORE_COLUMNS = ("level", "age", "sex", "genant_grade", "flagged", "ratio_flag", "ratio_rules")
#: The columns of a scores table that the summary tables and plots read.
SUMMARY_COLUMNS = (*SCORE_COLUMNS, "height_cm", "genant_flag", *HEIGHTS_MM, *HEIGHTS_REL,
                   *FLAG_RATIOS, *(f"{r}_z" for r in FLAG_RATIOS))  # fmt: skip


@dataclass
class Scored:
    """What ``score_files`` wrote; ``scores`` is None when the table was streamed."""

    scores: pd.DataFrame | None
    subjects: pd.DataFrame
    reference_note: str
    excluded: Exclusions
    not_scored: Exclusions
    paths: list[Path]
    counts: dict[str, int]  # vertebrae, flagged, ratio_flags, genant_flags


def _counts(scores: pd.DataFrame) -> dict[str, int]:
    return {
        "vertebrae": len(scores),
        "flagged": int(scores["flagged"].sum()),
        "ratio_flags": int(scores["ratio_flag"].fillna(False).sum()),
        "genant_flags": int(scores["genant_flag"].fillna(False).sum()),
    }


def _stream(measurements, demographics, key: str, covariates: tuple[str, ...],
            drop: Iterable[str] = (), batch_rows: int = BATCH_ROWS,
            named_only: bool = False) -> CohortStream | None:
    """A batch reader for a Parquet table whose images are contiguous, else None."""
    if not streamable(measurements):
        return None
    stream = CohortStream(measurements, demographics, key, covariates, drop, batch_rows,
                          named_only)  # fmt: skip
    return stream if stream.contiguous else None


def fit_file(
    measurements: Path,
    out: Path,
    demographics: Path | None = None,
    key: str = "image",
    formula: str = DEFAULT_FORMULA,
    method: str = "ols",
    min_n: int = 30,
    trim_sd: float = 3.0,
    progress: bool = False,
    sample: int | None = FIT_SAMPLE,
    batch_rows: int = BATCH_ROWS,
) -> Reference:
    """Load, validate, join, fit and save a reference.

    A streamed table keeps only the columns and rows a fit reads (about 100 bytes per
    vertebra); each level's models are fitted on at most ``sample`` bodies
    (``fit_reference``).
    """
    covariates = _covariates(formula)
    stream = _stream(measurements, demographics, key, covariates, GEOMETRY, batch_rows)
    if stream is None:
        cohort, exclusions = load_cohort(measurements, demographics, key, covariates)
    else:
        fit_exclusions: list[Exclusions] = []
        parts = []
        for batch in stream:
            fit_exclusions.append(Exclusions())
            measures = [m for m in (*MM_MEASURES, *SCALE_FREE) if m in batch]
            parts.append(fit_rows(batch, variables(formula), measures, fit_exclusions[-1]))
        if not parts:
            raise MorphoError(measurements, "no vertebrae to fit")
        cohort = pd.concat(parts, ignore_index=True)
        del parts
        exclusions = Exclusions.merged([stream.exclusions, *fit_exclusions])
    reference = fit_reference(
        cohort, formula, method, min_n=min_n, trim_sd=trim_sd, exclusions=exclusions,
        progress=progress, sample=sample,
    )  # fmt: skip
    reference.save(out)
    return reference


def score_files(
    measurements: Path,
    out_dir: Path,
    reference: Path | None = None,
    demographics: Path | None = None,
    key: str = "image",
    threshold: float = FLAG_SD,
    parquet: bool = False,
    batch_rows: int = BATCH_ROWS,
    named_only: bool = False,
) -> Scored:
    """Score against a saved reference (or the literature one) and write the two tables.

    A streamed table is scored a batch at a time and written as it goes (to a temporary
    file renamed into place at the end); the per-subject rows are merged across batches.
    ``named_only``: only the vertebrae with a level name, as if the table held no others
    (what ``morpho batch --reference`` scores; a run folder's measurements.parquet can be
    given as it is).
    """
    if reference is not None:
        ref = Reference.load(reference)
        note = f"fitted, {reference} ({ref.method}: {ref.formula})"
    else:
        ref, note = literature_reference()
    formula = ref.formula if ref is not None else "0"
    covariates, subject_key = _covariates(formula), key.partition("=")[0]
    out_dir.mkdir(parents=True, exist_ok=True)
    suffix = ".parquet" if parquet else ".csv"
    stream = _stream(measurements, demographics, key, covariates, GEOMETRY, batch_rows,
                     named_only)  # fmt: skip
    if stream is None:
        if named_only:
            measurements = read_table(measurements)
            measurements = measurements[measurements["level"].fillna("").astype(str) != ""]
        cohort, excluded = load_cohort(measurements, demographics, key, covariates)
        return _score_whole(cohort, excluded, ref, note, threshold, subject_key, out_dir, suffix)
    notes: list[Exclusions] = []
    partial: list[pd.DataFrame] = []
    counts: dict[str, int] = dict.fromkeys(("vertebrae", "flagged", "ratio_flags",
                                            "genant_flags"), 0)  # fmt: skip

    def scored_batches() -> Iterable[pd.DataFrame]:
        for batch in stream:
            scores, batch_notes = _scored(batch, ref, threshold)
            notes.append(batch_notes)
            partial.append(subject_summary(scores, subject_key))
            for name, n in _counts(scores).items():
                counts[name] += n
            yield scores

    paths = [write_batches(scored_batches(), out_dir / f"scores{suffix}")]
    subjects = combine_subjects(partial, subject_key)
    paths.append(write_table(subjects, out_dir / f"subjects{suffix}"))
    return Scored(None, subjects, note, stream.exclusions, Exclusions.merged(notes), paths,
                  counts)  # fmt: skip


def _scored(cohort: pd.DataFrame, ref: Reference | None,
            threshold: float) -> tuple[pd.DataFrame, Exclusions]:
    """``score`` with the ``reference`` column (fitted, or none: the literature's)."""
    scores, not_scored = score(cohort, ref, threshold)
    scores.insert(len(scores.columns), "reference", "fitted" if ref is not None else "none")
    return scores, not_scored


def _score_whole(
    cohort: pd.DataFrame, excluded: Exclusions, ref: Reference | None, note: str,
    threshold: float, subject_key: str, out_dir: Path, suffix: str,
) -> Scored:
    """Score a cohort held in memory and write its two tables."""
    scores, not_scored = _scored(cohort, ref, threshold)
    subjects = subject_summary(scores, subject_key)
    paths = [write_table(scores, out_dir / f"scores{suffix}"),
             write_table(subjects, out_dir / f"subjects{suffix}")]  # fmt: skip
    return Scored(scores, subjects, note, excluded, not_scored, paths, _counts(scores))


def summarise_file(scores: Path, out_dir: Path, key: str = "image") -> list[Path]:
    """Tables and plots of a scores table written by ``score_files`` (only the columns
    they read are loaded)."""
    wanted = {key, *SUMMARY_COLUMNS}
    if streamable(scores):
        names = [c for c in table_columns(scores) if c in wanted]
        try:
            table = pq.read_table(scores, columns=names).to_pandas()
        except (OSError, pa.ArrowException) as exc:
            raise MorphoError(scores, f"cannot read table: {exc}") from exc
    elif Path(scores).suffix.lower() in (".csv", ".txt"):
        try:
            table = pd.read_csv(scores, low_memory=False, usecols=lambda c: c in wanted)
        except (OSError, ValueError) as exc:
            raise MorphoError(scores, f"cannot read table: {exc}") from exc
    else:
        table = read_table(scores)
    require_columns(table, (key, *SCORE_COLUMNS), scores)
    table["ratio_rules"] = table["ratio_rules"].fillna("").astype(str)
    table["flagged"] = table["flagged"].astype(bool)
    written = write_summary(table, out_dir, key)
    return written + write_plots(table, prevalence(subject_summary(table, key)), out_dir)


def write_table(table: pd.DataFrame, path: Path) -> Path:
    """CSV or Parquet by suffix, written atomically."""
    if path.suffix == ".parquet":
        atomic_write(path, lambda p: table.to_parquet(p, index=False))
    elif path.suffix == ".csv":
        atomic_write(path, lambda p: table.to_csv(p, index=False))
    else:
        raise MorphoError(path, "unknown table format: use .csv or .parquet")
    return path


def write_batches(batches: Iterable[pd.DataFrame], path: Path) -> Path:
    """Stream frames into one CSV or Parquet file (the first frame's columns and types),
    renamed into place when all are written; the same file ``write_table`` writes of
    their concatenation."""
    if path.suffix not in (".csv", ".parquet"):
        raise MorphoError(path, "unknown table format: use .csv or .parquet")

    def write(tmp: Path) -> None:
        writer, schema, columns = None, None, None
        with open(tmp, "w", newline="") if path.suffix == ".csv" else nullcontext() as text:
            for frame in batches:
                if columns is None:
                    columns = list(frame.columns)
                frame = frame.reindex(columns=columns)
                if text is not None:
                    frame.to_csv(text, index=False, header=text.tell() == 0)
                    continue
                if schema is None:
                    schema = _schema(pa.Table.from_pandas(frame, preserve_index=False))
                    writer = pq.ParquetWriter(tmp, schema)
                writer.write_table(pa.Table.from_pandas(frame, schema=schema,
                                                        preserve_index=False))  # fmt: skip
        if writer is not None:
            writer.close()
        elif columns is None:
            write_table(pd.DataFrame(columns=columns or []), tmp)

    atomic_write(path, write)
    return path


def _schema(table: pa.Table) -> pa.Schema:
    """Columns empty in the first batch are typed as text (they may hold text later)."""
    return pa.schema(
        [f.with_type(pa.string()) if pa.types.is_null(f.type) else f for f in table.schema],
        metadata=table.schema.metadata,
    )


def _covariates(formula: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(("age", "sex", *variables(formula))))

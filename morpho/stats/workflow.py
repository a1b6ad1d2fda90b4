"""File-level steps behind `morpho stats fit | score | summary`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from morpho.atomic import atomic_write
from morpho.errors import MorphoError
from morpho.stats.design import variables
from morpho.stats.inputs import Exclusions, load_cohort, read_table, require_columns
from morpho.stats.literature import literature_reference
from morpho.stats.plots import write_plots
from morpho.stats.reference import DEFAULT_FORMULA, Reference, fit_reference
from morpho.stats.score import FLAG_SD, score, subject_summary
from morpho.stats.summary import prevalence, write_summary

SCORE_COLUMNS = ("level", "age", "sex", "genant_grade", "flagged", "ratio_flag", "ratio_rules")


@dataclass
class Scored:
    scores: pd.DataFrame
    subjects: pd.DataFrame
    reference_note: str
    excluded: Exclusions
    not_scored: Exclusions
    paths: list[Path]


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
) -> Reference:
    """Load, validate, join, fit and save a reference."""
    cohort, exclusions = load_cohort(measurements, demographics, key, _covariates(formula))
    reference = fit_reference(
        cohort, formula, method, min_n=min_n, trim_sd=trim_sd, exclusions=exclusions,
        progress=progress,
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
) -> Scored:
    """Score against a saved reference (or the literature one) and write the two tables."""
    if reference is not None:
        ref = Reference.load(reference)
        note = f"fitted, {reference} ({ref.method}: {ref.formula})"
    else:
        ref, note = literature_reference()
    formula = ref.formula if ref is not None else "0"
    cohort, excluded = load_cohort(measurements, demographics, key, _covariates(formula))
    scores, not_scored = score(cohort, ref, threshold)
    scores.insert(len(scores.columns), "reference", "fitted" if ref is not None else "none")
    subjects = subject_summary(scores, key.partition("=")[0])
    out_dir.mkdir(parents=True, exist_ok=True)
    suffix = ".parquet" if parquet else ".csv"
    paths = [write_table(scores, out_dir / f"scores{suffix}"),
             write_table(subjects, out_dir / f"subjects{suffix}")]  # fmt: skip
    return Scored(scores, subjects, note, excluded, not_scored, paths)


def summarise_file(scores: Path, out_dir: Path, key: str = "image") -> list[Path]:
    """Tables and plots of a scores table written by ``score_files``."""
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


def _covariates(formula: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(("age", "sex", *variables(formula))))

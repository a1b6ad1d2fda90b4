"""`morpho stats`: fit a normative reference, score measurements, summarise a cohort."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from morpho.cli import common
from morpho.cli.common import console, fail
from morpho.errors import MorphoError

stats_app = typer.Typer(
    help="Normative references, z-scores, deformity flags and cohort summaries.",
    no_args_is_help=True,
)

Measurements = Annotated[
    Path, typer.Argument(help="measurements.csv or .parquet from `morpho measure` or `batch`.")
]
Demographics = Annotated[
    Path | None,
    typer.Option(
        "--demographics",
        "-d",
        help="Table with an id, age, sex, height_cm (CSV/Parquet). Without it the covariates "
        "must be columns of the measurements (as `morpho batch` writes them).",
    ),
]
Key = Annotated[
    str,
    typer.Option(
        "--key",
        help="Join key: a column of both tables, or MEASUREMENTS_COL=DEMOGRAPHICS_COL "
        "(e.g. image=subject_id).",
    ),
]


@stats_app.command("fit")
def fit(
    measurements: Measurements,
    out: Annotated[Path, typer.Option("--out", "-o", help="Reference file to write (.json).")],
    demographics: Demographics = None,
    key: Key = "image",
    formula: Annotated[
        str, typer.Option(help="Right-hand side, e.g. 'bs(age, df=4) + C(sex) + height_cm'.")
    ] = "age + C(sex) + height_cm",
    method: Annotated[str, typer.Option(help="ols, rlm or quantreg.")] = "ols",
    min_n: Annotated[int, typer.Option(help="Fewest bodies for a stratified cell.")] = 30,
    trim_sd: Annotated[float, typer.Option(help="Trim residuals beyond this many SD.")] = 3.0,
    sample: Annotated[
        int,
        typer.Option(help="Fit each level's models on a stratified random subsample (sex x "
                     "age band) of at most this many bodies; trimming and cells still use "
                     "all. 0: fit on all bodies."),
    ] = 250_000,
) -> None:
    """Fit a normative reference per vertebral level and measure.

    A Parquet table (as `morpho batch` writes) is read in row batches, only the columns a
    fit needs: a million films' vertebrae fit in a few GiB.
    """
    from morpho.stats.workflow import fit_file

    try:
        reference = fit_file(
            measurements, out, demographics, key, formula, method, min_n, trim_sd, progress=True,
            sample=sample or None,
        )
    except Exception as exc:  # noqa: BLE001 - one error line, traceback only with --debug
        _fail(exc)
    _print_counts("excluded", reference.exclusions)
    status = reference.cells.groupby("status").size()
    console.print(
        f"fitted {len(reference.fits)} level x measure models ({method}: {reference.formula}); "
        f"cells: {', '.join(f'{n} {s}' for s, n in status.items())}; wrote {out}"
    )


@stats_app.command("score")
def score(
    measurements: Measurements,
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for scores and subjects.")],
    reference: Annotated[
        Path | None, typer.Option("--reference", "-r", help="Reference from `stats fit`.")
    ] = None,
    demographics: Demographics = None,
    key: Key = "image",
    threshold: Annotated[float, typer.Option(help="Flag a ratio this many SD below.")] = 3.0,
    parquet: Annotated[bool, typer.Option("--parquet", help="Write Parquet, not CSV.")] = False,
) -> None:
    """Z-scores, percentiles and deformity flags per vertebra; a summary per subject.

    A Parquet table is scored in row batches and the scores written as they come.
    """
    from morpho.stats.workflow import score_files

    try:
        result = score_files(measurements, out, reference, demographics, key, threshold, parquet)
    except Exception as exc:  # noqa: BLE001 - one error line, traceback only with --debug
        _fail(exc)
    counts = result.counts
    console.print(f"reference: {result.reference_note}")
    _print_counts("excluded", result.excluded.counts)
    _print_counts("not scored", result.not_scored.counts)
    console.print(
        f"scored {counts['vertebrae']} vertebrae of {len(result.subjects)} subjects: "
        f"{counts['flagged']} flagged ({counts['ratio_flags']} by a ratio, "
        f"{counts['genant_flags']} by Genant grade); wrote {out}"
    )


@stats_app.command("summary")
def summary(
    scores: Annotated[Path, typer.Argument(help="scores.csv or .parquet from `stats score`.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for tables and plots.")],
    key: Annotated[str, typer.Option("--key", help="Subject or image id column.")] = "image",
) -> None:
    """Tables (CSV and markdown) and plots (PNG) of a scored cohort."""
    from morpho.stats.workflow import summarise_file

    try:
        written = summarise_file(scores, out, key)
    except Exception as exc:  # noqa: BLE001 - one error line, traceback only with --debug
        _fail(exc)
    console.print(f"wrote {len(written)} files to {out}")


def _fail(exc: Exception) -> None:
    if common.DEBUG:
        raise exc
    if isinstance(exc, MorphoError):
        fail(exc.cause, exc.path)
    fail(f"{type(exc).__name__}: {exc}")


def _print_counts(what: str, counts: dict[str, int]) -> None:
    for reason, n in counts.items():
        console.print(f"{what}: {n} {reason}")


def register(app: typer.Typer) -> None:
    """Add the `stats` command group."""
    app.add_typer(stats_app, name="stats")

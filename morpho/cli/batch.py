"""`morpho batch`: the whole chain over a cohort, resumable, on a local pool or Ray."""

from __future__ import annotations

import functools
import os
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from morpho.cli.common import NO_FILES, View, console, fail, finish, report_error
from morpho.errors import MorphoError
from morpho.stats.reference import Reference


class Engine(str, Enum):
    local = "local"
    ray = "ray"


def batch(
    source: Annotated[
        Path,
        typer.Argument(metavar="INPUT", help="A folder (searched recursively) or a manifest CSV "
                       "(columns path, "
                       "and optionally subject_id, age, sex, height_cm, weight_kg, first_level, "
                       "view, anterior: per-image values over the header and the options)."),
    ],
    out: Annotated[Path, typer.Option("--out", help="Output folder (also the resume state).")],
    workers: Annotated[
        int | None,
        typer.Option("--workers", help="Worker processes (default: the cores, fewer where "
                     "memory is short: about 1.1 GB each)."),
    ] = None,
    engine: Annotated[Engine, typer.Option("--engine", help="Where to run.")] = Engine.local,
    address: Annotated[
        str | None, typer.Option("--address", help="Ray cluster address (with --engine ray).")
    ] = None,
    model: Annotated[
        Path | None, typer.Option("--model", help="ONNX model (default: the shipped one).")
    ] = None,
    reference: Annotated[
        Path | None, typer.Option("--reference", help="Score against this stats reference.")
    ] = None,
    full_resolution: Annotated[
        bool, typer.Option("--full-resolution", help="Always decode at full size.")
    ] = False,
    chunk_size: Annotated[int, typer.Option("--chunk-size", help="Images per task.")] = 4,
    first_level: Annotated[
        str | None,
        typer.Option("--first-level", help="Level of every image's first visible body, e.g. T4."),
    ] = None,
    view: Annotated[
        View | None,
        typer.Option("--view", help="Measure every image in this view (default: lateral; a "
                     "frontal header is then recorded as a failure)."),
    ] = None,
) -> None:
    """Segment and measure every image of a cohort, resumably.

    Writes OUT/measurements.parquet (+ .csv), OUT/images.parquet and OUT/failures.csv. Run it
    again to resume after a stop."""
    from morpho.batch import items_from_input, run_batch
    from morpho.batch.chain import ChainWorker
    from morpho.batch.items import ManifestError
    from morpho.batch.local import default_workers

    if not source.exists():
        fail("no such file or folder", source)
    if model is not None and not model.is_file():
        fail("model not found", model)
    model_path = str(model.resolve()) if model else None
    workers = workers or default_workers()
    # inference threads per worker: share the cores (one per Ray actor)
    threads = 1 if engine == Engine.ray else max(1, (os.cpu_count() or 1) // workers)
    try:
        if reference is not None:
            Reference.load(reference)  # refused before any work if it is not plain data
        items = items_from_input(source, skip=[out])
        if not items:
            fail(NO_FILES, source)
        summary = run_batch(
            items,
            out,
            functools.partial(
                ChainWorker,
                model_path=model_path,
                reduced=not full_resolution,
                threads=threads,
                first_level=first_level,
                view=view.value if view else None,
            ),
            engine=engine.value,
            workers=workers,
            chunk_size=chunk_size,
            address=address,
            settings={
                "model": model_path or "default",
                "reduced": not full_resolution,
                "first_level": first_level,
                "view": view.value if view else None,
            },
            reference=reference,
        )
    except ManifestError as exc:  # one line per bad row
        for problem in exc.problems:
            report_error(exc.path, problem)
        raise typer.Exit(code=1) from None
    except MorphoError as exc:
        fail(exc.cause, exc.path)
    except OSError as exc:  # the output folder cannot be made or written
        fail(exc.strerror or str(exc), exc.filename or out)
    console.print(
        f"{summary.ok} of {summary.total} image(s) measured ({summary.processed_now} this run, "
        f"{summary.seconds:.1f} s); tables in {out}"
    )
    for path, cause in summary.failures:
        report_error(path, cause)
    finish(summary.failures, summary.total)


def register(app: typer.Typer) -> None:
    app.command("batch")(batch)

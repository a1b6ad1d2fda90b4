"""`morpho batch`: the whole chain over a cohort, resumable, on a local pool or Ray."""

from __future__ import annotations

import functools
import os
from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer

from morpho.cli.common import NO_FILES, View, console, fail, finish, known_levels, report_error
from morpho.errors import MorphoError
from morpho.stats.reference import Reference


class Engine(str, Enum):
    local = "local"
    ray = "ray"


SourceArgument = Annotated[
    Path,
    typer.Argument(metavar="INPUT", help="A folder (searched recursively) or a manifest CSV "
                   "(columns path, and optionally subject_id, age, sex, height_cm, weight_kg, "
                   "first_level or last_level, view, anterior: per-image values over the "
                   "header and the options)."),
]
OutOption = Annotated[Path, typer.Option("--out", help="Output folder (also the resume state).")]
WorkersOption = Annotated[
    int | None,
    typer.Option("--workers", help="Worker processes (default: the cores, fewer where memory "
                 "is short: about 1.1 GB each)."),
]
EngineOption = Annotated[Engine, typer.Option("--engine", help="Where to run.")]
AddressOption = Annotated[
    str | None, typer.Option("--address", help="Ray cluster address (with --engine ray).")
]
ModelOption = Annotated[
    Path | None, typer.Option("--model", help="ONNX model (default: the shipped one).")
]
ReferenceOption = Annotated[
    Path | None, typer.Option("--reference", help="Score against this stats reference.")
]
FullResolutionOption = Annotated[
    bool, typer.Option("--full-resolution", help="Always decode at full size.")
]
ChunkOption = Annotated[int, typer.Option("--chunk-size", help="Images per task.")]
FirstLevelOption = Annotated[
    str | None,
    typer.Option("--first-level", help="Level of every image's first whole body, e.g. T4 "
                 "(one cut by the film's top edge is the level before)."),
]
LastLevelOption = Annotated[
    str | None,
    typer.Option("--last-level", help="Or the level of every image's last whole body, e.g. "
                 "L1, counting up (one cut by the film's bottom edge is the level after)."),
]
ViewOption = Annotated[
    View | None,
    typer.Option("--view", help="Measure every image in this view (default: lateral; a "
                 "frontal header is then recorded as a failure)."),
]
PicturesOption = Annotated[
    bool,
    typer.Option("--pictures/--no-pictures", help="Keep a display copy of each film in "
                 "OUT/films (the body label maps and DICOM header copies that reports, SEG and "
                 "SR need are kept either way)."),
]
OverlaysOption = Annotated[
    bool,
    typer.Option("--overlays/--no-overlays", help="Also keep each film's overlay PNG in "
                 "OUT/films: most of the stored bytes (0.8 of 0.9 MB on the sample) and "
                 "~50 ms per film. `morpho report` draws overlays from the film copy either "
                 "way."),
]


def _model_path(model: Path | None) -> str | None:
    if model is not None and not model.is_file():
        fail("model not found", model)
    return str(model.resolve()) if model else None


def _settings(model_path: str | None, full_resolution: bool, first_level: str | None,
              view: View | None, pictures: bool, overlays: bool = False,
              last_level: str | None = None) -> dict[str, Any]:
    """What the run records (store and run.json); a resume with other values is refused.
    ``overlays`` and ``last_level`` are recorded only when set, so runs made before they
    existed resume."""
    from morpho.batch.chain import model_sha256
    from morpho.stored import FORMAT

    try:
        digest = model_sha256(model_path)
    except OSError as exc:
        fail(f"cannot read the model: {exc.strerror or exc}", model_path)
    return {"model": model_path or "default", "model_sha256": digest,
            "reduced": not full_resolution, "first_level": first_level,
            "view": view.value if view else None, "pictures": pictures,
            "stored_format": FORMAT, **({"overlays": True} if overlays else {}),
            **({"last_level": last_level} if last_level else {})}  # fmt: skip


def _summarise(summary: Any, out: Path) -> None:
    console.print(
        f"{summary.ok} of {summary.total} image(s) measured ({summary.processed_now} this run, "
        f"{summary.seconds:.1f} s); tables and films in {out}"
    )
    for path, cause in summary.failures:
        report_error(path, cause)
    finish(summary.failures, summary.total)


def batch(
    source: SourceArgument,
    out: OutOption,
    workers: WorkersOption = None,
    engine: EngineOption = Engine.local,
    address: AddressOption = None,
    model: ModelOption = None,
    reference: ReferenceOption = None,
    full_resolution: FullResolutionOption = False,
    chunk_size: ChunkOption = 4,
    first_level: FirstLevelOption = None,
    last_level: LastLevelOption = None,
    view: ViewOption = None,
    pictures: PicturesOption = True,
    overlays: OverlaysOption = False,
) -> None:
    """Segment and measure every image of a cohort, resumably.

    Writes OUT/measurements.parquet (+ .csv), OUT/images.parquet, OUT/failures.csv, OUT/run.json
    and per film OUT/films/<image>_labels.png, _film.jpg (_overlay.png with --overlays) and
    _source.dcm (a de-identified DICOM header). Run it again to resume after a stop."""
    from morpho.batch import items_from_input, run_batch
    from morpho.batch.chain import ChainWorker
    from morpho.batch.items import ManifestError
    from morpho.batch.local import default_workers

    if not source.exists():
        fail("no such file or folder", source)
    model_path = _model_path(model)
    if overlays and not pictures:
        fail("--overlays needs the film copy: leave out --no-pictures", out)
    first_level, last_level = known_levels(first_level, last_level)
    settings = _settings(model_path, full_resolution, first_level, view, pictures, overlays,
                         last_level)
    workers = workers or default_workers()
    # inference threads per worker: share the cores (one per Ray actor)
    threads = 1 if engine == Engine.ray else max(1, (os.cpu_count() or 1) // workers)
    factory = functools.partial(
        ChainWorker, model_path=model_path, reduced=not full_resolution, threads=threads,
        first_level=first_level, view=settings["view"], pictures=pictures, overlays=overlays,
        last_level=last_level,
    )  # fmt: skip
    try:
        if reference is not None:
            Reference.load(reference)  # refused before any work if it is not plain data
        items = items_from_input(source, skip=[out])
        if not items:
            fail(NO_FILES, source)
        summary = run_batch(items, out, factory, engine=engine.value, workers=workers,
                            chunk_size=chunk_size, address=address, settings=settings,
                            reference=reference)  # fmt: skip
    except ManifestError as exc:  # one line per bad row
        for problem in exc.problems:
            report_error(exc.path, problem)
        raise typer.Exit(code=1) from None
    except MorphoError as exc:
        fail(exc.cause, exc.path)
    except OSError as exc:  # the output folder cannot be made or written
        fail(exc.strerror or str(exc), exc.filename or out)
    _summarise(summary, out)


def register(app: typer.Typer) -> None:
    app.command("batch")(batch)

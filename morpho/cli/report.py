"""`morpho report`: HTML screening reports (per subject and per cohort) and DICOM-SEG."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import pandas as pd
import typer

from morpho.cli.common import console, fail, finish, run_each
from morpho.errors import MorphoError

if TYPE_CHECKING:
    from morpho.report.html import BatchTables


def report(
    run: Annotated[Path, typer.Argument(help="The output folder of a `morpho batch` run.")],
    out: Annotated[Path, typer.Option("--out", help="Report folder.")],
    include_identifiers: Annotated[
        bool,
        typer.Option(
            "--include-identifiers",
            help="Show file names, subject ids and DICOM patient name, id and dates.",
        ),
    ] = False,
    dicom_seg: Annotated[
        bool,
        typer.Option(
            "--dicom-seg",
            help="Also write each DICOM input's body mask as a DICOM Segmentation "
            "(it copies the patient module; needs --include-identifiers).",
        ),
    ] = False,
    only_flagged: Annotated[
        bool,
        typer.Option("--only-flagged", help="Subject reports only for subjects with a flag."),
    ] = False,
    model: Annotated[
        Path | None, typer.Option("--model", help="ONNX model for --dicom-seg.")
    ] = None,
) -> None:
    """Write OUT/cohort.html and OUT/subjects/subject-NNNN.html (self-contained files)."""
    from morpho.report import write_cohort_report, write_subject_reports
    from morpho.report.html import BatchTables

    if dicom_seg and not include_identifiers:
        fail("--dicom-seg copies the patient's name and id into the SEG; add --include-identifiers")
    try:
        tables = BatchTables.load(run)
        _apply_corrections(tables, run)
        subjects = write_subject_reports(
            tables, out / "subjects", include_identifiers=include_identifiers,
            only_flagged=only_flagged,
        )  # fmt: skip
        links = [(name, f"subjects/{path.name}") for name, path in subjects]
        write_cohort_report(tables, out / "cohort.html", links=links,
                            include_identifiers=include_identifiers)  # fmt: skip
    except MorphoError as exc:
        fail(exc.cause, exc.path)
    except OSError as exc:  # the report folder cannot be written
        fail(exc.strerror or str(exc), exc.filename or out)
    console.print(f"{len(subjects)} subject report(s) and cohort.html in {out}")
    if dicom_seg:
        _write_segs(tables.images, out / "seg", model)


def _apply_corrections(tables: BatchTables, run: Path) -> None:
    """The readers' corrections (``morpho review``: RUN/corrections.csv) applied to the
    measurements, corrected films re-measured and re-graded (``corrected`` column)."""
    from morpho.review import apply_corrections, load_corrections

    log = load_corrections(run)
    if log.empty:
        return
    table = apply_corrections(tables.measurements, log)
    level = table["level"].fillna("").astype(str)  # the reports' label follows a renamed level
    table["label"] = level.where(level != "", "#" + table["index"].astype(str))
    tables.measurements = table
    console.print(f"{len(log)} reader correction(s) applied ({int(table['corrected'].sum())} "
                  f"bod{'y' if table['corrected'].sum() == 1 else 'ies'} corrected)")


def _write_segs(images: pd.DataFrame, folder: Path, model: Path | None) -> None:
    """``<name>_seg.dcm`` per measured DICOM input; ``name`` from the run's file keys
    (collision-free, mirroring the input tree, always inside ``folder``)."""
    from morpho.io.files import inside, output_names
    from morpho.report.dicom_seg import SegWriter

    try:
        writer = SegWriter(model)
    except MorphoError as exc:
        fail(exc.cause, exc.path)
    names = output_names([str(file) for file in images["file"]])
    done = [(row, name) for row, name in zip(images.itertuples(), names, strict=True)
            if row.status == "ok"]  # fmt: skip
    failures = run_each(
        done,
        lambda pair: writer.write(pair[0].path, inside(folder, f"{pair[1]}_seg.dcm")),
        name=lambda pair: str(pair[0].file),
    )
    finish(failures, len(done))


def register(app: typer.Typer) -> None:
    app.command("report")(report)

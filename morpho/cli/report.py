"""`morpho report`: HTML screening reports (per subject and per cohort) and DICOM-SEG."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from morpho.cli.common import console, fail, finish, run_each


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
    from morpho.errors import MorphoError
    from morpho.report import write_cohort_report, write_subject_reports
    from morpho.report.html import BatchTables

    if dicom_seg and not include_identifiers:
        fail("--dicom-seg copies the patient's name and id into the SEG; add --include-identifiers")
    try:
        tables = BatchTables.load(run)
    except MorphoError as exc:
        fail(exc.cause, exc.path)
    subjects = write_subject_reports(
        tables, out / "subjects", include_identifiers=include_identifiers,
        only_flagged=only_flagged,
    )  # fmt: skip
    links = [(name, f"subjects/{path.name}") for name, path in subjects]
    write_cohort_report(tables, out / "cohort.html", links=links,
                        include_identifiers=include_identifiers)  # fmt: skip
    console.print(f"{len(subjects)} subject report(s) and cohort.html in {out}")
    if dicom_seg:
        from morpho.report.dicom_seg import SegWriter

        writer = SegWriter(model)
        images = list(tables.images[tables.images["status"] == "ok"].itertuples(index=False))
        failures = run_each(
            images,
            lambda image: writer.write(image.path, out / "seg" / f"{image.image}_seg.dcm"),
            name=lambda image: image.file,
        )
        finish(failures, len(images))


def register(app: typer.Typer) -> None:
    app.command("report")(report)
